{#- The catalogue (vars.indicators in dbt_project.yml), checked once: a mistake in a declaration
    stops the build with the indicator and field named, instead of producing wrong numbers. -#}
{% macro indicator_catalogue() %}
    {%- set allowed = {
        'method': ['crude_rate', 'proportion', 'dsr'],
        'polarity': ['lower_is_better', 'higher_is_better', 'no_judgement'],
        'disclosure': ['rate_count_below_10', 'nhs_small_numbers', 'none'],
    } -%}
    {%- set area_types = ['lsoa', 'msoa', 'lad', 'utla', 'csp', 'pfa', 'region', 'country'] -%}
    {%- set period_types = ['month', 'quarter', 'calendar_year', 'financial_year', 'academic_year', 'rolling_12_months'] -%}
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
        {%- if ind.method == 'dsr' and ind.denominator.population != 'population_all_ages' -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ name ~ " is age-standardised (dsr): its denominator is the all-ages population by ESP2013 band, so denominator.population must be population_all_ages (restrict ages in the numerator instead)") }}
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
        {%- if ind.id in seen -%}
            {{ exceptions.raise_compiler_error("indicator catalogue: " ~ ind.id ~ " is declared twice") }}
        {%- endif -%}
        {%- do seen.append(ind.id) -%}
    {%- endfor -%}
    {{ return(var('indicators')) }}
{% endmacro %}
