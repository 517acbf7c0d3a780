{#- The catalogue (vars.indicators in dbt_project.yml), checked once: a mistake in a declaration
    stops the build with the indicator and field named, instead of producing wrong numbers.
    numerator.area_level and numerator.period_type (default lsoa and month) say the grain the
    numerator model arrives at: a model at another grain has that level's code column (lad_code,
    …) and period_start. -#}
{#- The methods whose numerators are counted by ESP2013 age band: directly standardised (dsr) and
    indirectly standardised ratio or rate (isratio, israte: expected counts from the band rates of
    the area the catalogue's `standardised_to` names). -#}
{% macro age_banded_methods() %}{{ return(['dsr', 'isratio', 'israte']) }}{% endmacro %}

{% macro indicator_catalogue() %}
    {%- set allowed = {
        'method': ['crude_rate', 'proportion'] + age_banded_methods(),
        'polarity': ['lower_is_better', 'higher_is_better', 'no_judgement'],
        'disclosure': ['rate_count_below_10', 'nhs_small_numbers', 'none'],
    } -%}
    {%- set area_types = area_level_types() -%}
    {%- set period_types = var('period_types') | map(attribute='type') | list -%}
    {%- set levels = area_levels() -%}
    {%- set required = ['id', 'name', 'definition', 'numerator', 'denominator', 'multiplier', 'method', 'polarity',
                        'disclosure', 'source', 'area_types', 'period_types'] -%}
    {%- set seen = [] -%}
    {%- for ind in var('indicators') -%}
        {%- set name = ind.get('id', 'entry ' ~ loop.index) -%}
        {%- for key in required if key not in ind -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " has no '" ~ key ~ "'") }}
        {%- endfor -%}
        {%- for key, values in allowed.items() if ind[key] not in values -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " " ~ key ~ " '" ~ ind[key] ~ "' is not one of " ~ values | join(', ')) }}
        {%- endfor -%}
        {%- if ind.method in age_banded_methods() and ind.denominator.population != 'population_all_ages' -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " is age-standardised (" ~ ind.method ~ "): its denominator is the all-ages population by ESP2013 band, so denominator.population must be population_all_ages (restrict ages in the numerator instead)") }}
        {%- endif -%}
        {%- if ind.numerator.get('person') and ind.method != 'dsr' -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " numerator.person (events that are not independent) is for directly standardised rates (dsr) only") }}
        {%- endif -%}
        {%- if ind.method in ['isratio', 'israte'] -%}
            {%- if ind.get('standardised_to') not in area_types -%}
                {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " is indirectly standardised (" ~ ind.method ~ "): standardised_to must name the area level whose age-specific rates give the expected counts, one of " ~ area_types | join(', ')) }}
            {%- endif -%}
            {%- for t in ind.area_types if t != ind.standardised_to and ind.standardised_to not in levels[t].ancestors -%}
                {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " is standardised to " ~ ind.standardised_to ~ " rates and cannot be shown at '" ~ t ~ "', which does not lie inside one " ~ ind.standardised_to) }}
            {%- endfor -%}
        {%- endif -%}
        {%- if ind.get('ages') and (ind.method not in age_banded_methods() or ind.ages | length != 2 or ind.ages[0] % 5 != 0
                                    or (ind.ages[1] + 1) % 5 != 0 or ind.ages[0] > ind.ages[1] or ind.ages[1] > 89) -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " ages " ~ ind.ages ~ ": an age-standardised (" ~ age_banded_methods() | join(', ') ~ ") indicator may restrict its ages to whole ESP2013 bands, [from, to] with from a multiple of 5 and to one less (e.g. [10, 24])") }}
        {%- endif -%}
        {%- if not ind.denominator.get('population') and not (ind.denominator.get('model') and ind.denominator.get('measure')) -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " denominator needs a population column or a model and measure") }}
        {%- endif -%}
        {%- for key in ['model', 'measure'] if key not in ind.numerator -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " numerator has no '" ~ key ~ "'") }}
        {%- endfor -%}
        {%- for t in ind.area_types if t not in area_types -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " area type '" ~ t ~ "' is not one of " ~ area_types | join(', ')) }}
        {%- endfor -%}
        {%- for t in ind.period_types if t not in period_types -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " period type '" ~ t ~ "' is not one of " ~ period_types | join(', ')) }}
        {%- endfor -%}
        {%- set level, period_type = ind.numerator.get('area_level', 'lsoa'), ind.numerator.get('period_type', 'month') -%}
        {%- if level not in area_types or period_type not in period_types -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " numerator arrives at '" ~ level ~ "' x '" ~ period_type ~ "': the area level must be one of " ~ area_types | join(', ') ~ " and the period type one of " ~ period_types | join(', ')) }}
        {%- endif -%}
        {%- if (level, period_type) != ('lsoa', 'month') -%}
            {%- for t in ind.area_types if t != level and t not in levels[level].ancestors -%}
                {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " arrives at " ~ level ~ " level and cannot be shown at '" ~ t ~ "' (only " ~ ([level] + levels[level].ancestors) | join(', ') ~ ")") }}
            {%- endfor -%}
            {%- if ind.period_types != [period_type] -%}
                {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " arrives by " ~ period_type ~ ": its period_types must be [" ~ period_type ~ "]") }}
            {%- endif -%}
            {%- if ind.method in age_banded_methods() -%}
                {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " is age-standardised (" ~ ind.method ~ "), which needs numerators by LSOA and age") }}
            {%- endif -%}
        {%- endif -%}
        {%- for given in ind.numerator.get('published_levels', []) if given not in levels[level].ancestors or (level, period_type) == ('lsoa', 'month') -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " numerator.published_levels '" ~ given ~ "': a source arriving at a level above LSOA x month may publish its own totals only at levels above its own (" ~ levels[level].ancestors | join(', ') ~ ")") }}
        {%- endfor -%}
        {%- if ind.get('comparator') and ind.comparator not in area_types -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " comparator '" ~ ind.comparator ~ "' is not one of " ~ area_types | join(', ')) }}
        {%- endif -%}
        {%- if ind.id in seen -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ ind.id ~ " is declared twice") }}
        {%- endif -%}
        {%- do seen.append(ind.id) -%}
    {%- endfor -%}
    {{ return(var('indicators')) }}
{% endmacro %}
