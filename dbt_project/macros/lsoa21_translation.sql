{#- Records placed in LSOAs 2021, for any source that publishes LSOA codes of either vintage.
    Each delivered file carries one LSOA vintage: a file with codes that exist only as LSOAs 2011
    is a 2011 file, and all its codes go through the LSOA 2011 → 2021 weights (unchanged codes
    with weight 1, split ones shared by population), so a record may count as fractions of one in
    several LSOAs 2021 while totals stay whole. Returns a query: every column of `relation` plus
    lsoa_vintage, lsoa21_code (null when the record has no LSOA) and record_weight. -#}
{% macro lsoa21_translated(relation, code_column='lsoa_code_as_published', file_column='source_file') %}
    -- read twice rather than materialised: the vintage pass reads only the file and code columns
    -- (materialising every column of a national year's records was a quarter of the model's time)
    with _records as not materialized (
        select * from {{ relation }}
    ),

    _lsoa21 as (
        select distinct lsoa21_code from {{ ref('stg_ons__lsoa21_lad') }}
    ),

    _weights as (
        select * from {{ ref('int_lsoa11_to_lsoa21_weight') }}
    ),

    _file_vintage as (
        select
            r.{{ file_column }},
            case when count(*) filter (where l21.lsoa21_code is null
                                         and r.{{ code_column }} in (select lsoa11_code from _weights)) > 0
                 then '2011' else '2021' end as lsoa_vintage
        from _records as r
        left join _lsoa21 as l21 on l21.lsoa21_code = r.{{ code_column }}
        where r.{{ code_column }} is not null
        group by r.{{ file_column }}
    )

    select
        r.*,
        coalesce(v.lsoa_vintage, '2021')                   as lsoa_vintage,
        coalesce(w.lsoa21_code, r.{{ code_column }})       as lsoa21_code,
        coalesce(w.weight, 1.0)                            as record_weight
    from _records as r
    left join _file_vintage as v using ({{ file_column }})
    left join _weights as w
        on v.lsoa_vintage = '2011' and w.lsoa11_code = r.{{ code_column }}
{% endmacro %}
