{#- The least count the NHS small-number rule hides: 0 (zeros hidden too), or 1 where zeros are
    shown (var nhs_small_numbers_hide_zeros). -#}
{% macro nhs_hidden_from() -%}
    {{ 0 if var('nhs_small_numbers_hide_zeros') else 1 }}
{%- endmacro %}

{#- The NHS small-number rule's rounding: a count shown (8 and more) is rounded to the nearest 5.
    int_indicator__disclosed publishes it; int_disclosure__cell works out what it tells an attacker. -#}
{#- The one published reason for a count hidden under the NHS rule, small or secondary alike, so
    the file does not say which hidden count is the small one. -#}
{% macro nhs_hidden_reason() -%}
    'hidden: a count from {{ nhs_hidden_from() }} to 7, or a count hidden so that none can be worked out (NHS small-number rule)'
{%- endmacro %}

{#- The disclosure cell of an indicator's count in one IMD quantile of an area
    (int_indicator__imd_quantile_count): '<indicator>|decile:3', '<indicator>|quintile:1'. -#}
{% macro quantile_cell_id(indicator_id, quantile_type, quantile) -%}
    ({{ indicator_id }} || '|' || {{ quantile_type }} || ':' || {{ quantile }})
{%- endmacro %}

{% macro nhs_rounded(count) -%}
    (round({{ count }} / 5) * 5)
{%- endmacro %}

{#- The counts a shown (rounded, non-zero) count can stand for: 2 either side, never below 8. -#}
{% macro nhs_shown_low(rounded) -%}
    greatest({{ rounded }} - 2, 8)
{%- endmacro %}

{% macro nhs_shown_high(rounded) -%}
    ({{ rounded }} + 2)
{%- endmacro %}

{#- Under the NHS rule a located share is published in bands of 10 (90 means 90 to 99%; 100 only
    when every record was placed): a whole percent of a shown count would pin the force's records
    with no LSOA to one or two, and with them the counts below force level. -#}
{% macro nhs_share_band(share) -%}
    (case when {{ share }} >= 1 then 100 else floor(10 * {{ share }} + 1e-9) * 10 end)::bigint
{%- endmacro %}

{#- For each count n a shown count can stand for (2 either side, never below 8): the fewest and
    most placed records k ≤ n the band b allows (b ≤ 100k/n < b + 10). Whole numbers throughout
    (// of a double is not a floor). -#}
{% macro _band_counts(band, rounded) -%}
    {%- set counts = [] -%}
    {%- for offset in [-2, -1, 0, 1, 2] -%}
        {%- set n = '(' ~ rounded ~ '::bigint + (' ~ offset ~ '))' -%}
        {%- set b = '(' ~ band ~ ')::bigint' -%}
        {%- do counts.append({'n': n,
                              'k_min': '((' ~ b ~ ' * ' ~ n ~ ' + 99) // 100)',
                              'k_max': 'least(' ~ n ~ ', ((' ~ b ~ ' + 10) * ' ~ n ~ ' + 99) // 100 - 1)'}) -%}
    {%- endfor -%}
    {{ return(counts) }}
{%- endmacro %}

{#- True when the band fits every count the shown one can stand for, so publishing it does not say
    which (a band of 90 fits no shown 10 of 8: 7 of 8 is 87.5%). -#}
{% macro share_band_fits(band, rounded) -%}
    (
    {%- for c in _band_counts(band, rounded) %}
        ({{ c.n }} < 8 or {{ c.k_min }} <= {{ c.k_max }}){{ ' and' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{#- The fewest and most records with no LSOA (n − k) a band of a shown count allows. -#}
{% macro band_unplaced_low(band, rounded) -%}
    least(
    {%- for c in _band_counts(band, rounded) %}
        case when {{ c.n }} >= 8 then {{ c.n }} - {{ c.k_max }} end{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{% macro band_unplaced_high(band, rounded) -%}
    greatest(
    {%- for c in _band_counts(band, rounded) %}
        case when {{ c.n }} >= 8 then {{ c.n }} - {{ c.k_min }} end{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{#- SQL: each catalogue indicator's disclosure rule (indicator_id, disclosure). -#}
{% macro disclosure_rules() -%}
    select * from (values
    {%- for ind in indicator_catalogue() %}
        ('{{ ind.id }}', '{{ ind.disclosure }}'){{ ',' if not loop.last }}
    {%- endfor %}
    ) as r (indicator_id, disclosure)
{%- endmacro %}
