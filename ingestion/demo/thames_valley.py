"""The demo area: Thames Valley police force area (Berkshire, Buckinghamshire, Milton Keynes,
Oxfordshire) with its real local authority, CSP, PFA and region codes.

LSOA, MSOA and ward codes are SYNTHETIC: the real ones need the ONS lookup files, which a user's
clone does not have. They use ranges no real code uses (LSOA E0109xxxx, MSOA E0209xxxx, ward
E0509xxxx) so demo output can never be mistaken for, or joined to, real areas.
"""

from __future__ import annotations

from dataclasses import dataclass

PFA_CODE, PFA_NAME = "E23000029", "Thames Valley"
REGION_CODE, REGION_NAME = "E12000008", "South East"
FORCE_NAME = "Thames Valley Police"
FORCE_SLUG = "thames-valley"


@dataclass(frozen=True)
class DemoLad:
    code: str
    name: str
    csp_code: str
    csp_name: str
    lsoa_count: int     # approximate number of LSOA 2021 in the real district
    longitude: float    # approximate centroid
    latitude: float


LADS: tuple[DemoLad, ...] = (
    DemoLad("E06000036", "Bracknell Forest", "E22000304", "Bracknell Forest", 73, -0.74, 51.41),
    DemoLad("E06000037", "West Berkshire", "E22000314", "West Berkshire", 100, -1.27, 51.45),
    DemoLad("E06000038", "Reading", "E22000309", "Reading", 105, -0.97, 51.45),
    DemoLad("E06000039", "Slough", "E22000310", "Slough", 82, -0.59, 51.51),
    DemoLad("E06000040", "Windsor and Maidenhead", "E22000316", "Windsor and Maidenhead", 93, -0.69, 51.48),
    DemoLad("E06000041", "Wokingham", "E22000317", "Wokingham", 111, -0.89, 51.41),
    DemoLad("E06000042", "Milton Keynes", "E22000307", "Milton Keynes", 165, -0.74, 52.04),
    # Buckinghamshire (created April 2020 from Aylesbury Vale, Chiltern, South Bucks, Wycombe).
    # Its CSP code here is an unverified demo assumption: check it against the ONS LAD→CSP→PFA lookup.
    DemoLad("E06000060", "Buckinghamshire", "E22000321", "Buckinghamshire", 330, -0.81, 51.78),
    DemoLad("E07000177", "Cherwell", "E22000305", "Cherwell", 97, -1.30, 51.98),
    DemoLad("E07000178", "Oxford", "E22000308", "Oxford", 86, -1.25, 51.75),
    DemoLad("E07000179", "South Oxfordshire", "E22000312", "South Oxfordshire", 89, -1.08, 51.65),
    DemoLad("E07000180", "Vale of White Horse", "E22000313", "Vale of White Horse", 85, -1.42, 51.63),
    DemoLad("E07000181", "West Oxfordshire", "E22000315", "West Oxfordshire", 68, -1.50, 51.80),
)

# Oxfordshire's districts sit under Oxfordshire County Council; the rest are unitary authorities
COUNTY_OF = {"E07000177": ("E10000025", "Oxfordshire"), "E07000178": ("E10000025", "Oxfordshire"),
             "E07000179": ("E10000025", "Oxfordshire"), "E07000180": ("E10000025", "Oxfordshire"),
             "E07000181": ("E10000025", "Oxfordshire")}
COUNTRY_CODE, COUNTRY_NAME = "E92000001", "England"

HOTSPOT_LAD = "E06000038"  # the planted hotspot LSOA is in Reading

# Annual police.uk records per 1,000 residents by crime type, roughly Thames Valley's mix
# (from the real 2019-01 street file: violence ~28%, ASB ~12%, …; ~72 records per 1,000 a year).
ANNUAL_RATE_PER_1000 = {
    "Violence and sexual offences": 20.2,
    "Anti-social behaviour": 9.0,
    "Other theft": 8.1,
    "Criminal damage and arson": 7.3,
    "Vehicle crime": 6.7,
    "Shoplifting": 5.5,
    "Burglary": 4.9,
    "Public order": 2.7,
    "Drugs": 2.4,
    "Bicycle theft": 1.5,
    "Other crime": 1.5,
    "Theft from the person": 0.9,
    "Robbery": 0.7,
    "Possession of weapons": 0.6,
}

OUTCOMES = (
    "Investigation complete; no suspect identified", "Unable to prosecute suspect", "Under investigation",
    "Awaiting court outcome", "Local resolution", "Offender given a caution", "Suspect charged",
    "Further action is not in the public interest", "Action to be taken by another organisation",
    "Formal action is not in the public interest", "Status update unavailable", "Court result unavailable",
)

STREETS = (
    "High Street", "Station Road", "Church Street", "London Road", "Oxford Road", "Park Avenue",
    "Queens Road", "Kings Road", "Broad Street", "Market Place", "Mill Lane", "The Green",
    "Victoria Road", "Manor Road", "School Lane", "Castle Street", "Bath Road", "Chapel Lane",
    "Sports/Recreation Area", "Supermarket", "Petrol Station", "Shopping Area", "Nightclub",
    "Parking Area", "Hospital", "Further/Higher Educational Building", "Police Station",
    "Parking Area, High Street", "Supermarket, Broad Street",  # real names can hold a comma
)
