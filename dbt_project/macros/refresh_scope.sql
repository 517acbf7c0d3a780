{#- Incremental builds: rebuild only what a change in the deliveries can move.

    raw.dbt_built_load keeps the accepted loads as of the last complete build (on-run-end).
    int_refresh__changed_load compares it with the accepted loads now and int_refresh__scope sums
    that up: months of police.uk street files added, replaced or withdrawn since then are rebuilt
    (int_refresh__month), with the reporting periods containing them (int_refresh__period); a
    change to any reference data (ONS lookups, population, IMD) rebuilds everything. Indicators
    not counted from street records alone (numerator models outside var refresh_by_month_models:
    outcome shares, whose past months move as outcomes arrive; force extracts, which may restate
    any month) are rebuilt in full whenever outcomes or force extracts changed
    (int_refresh__indicator). A --full-refresh build rebuilds everything. -#}

{% macro by_month_indicator_ids() %}
    {%- set ids = [] -%}
    {%- for ind in indicator_catalogue() -%}
        {%- if ind.numerator.model in var('refresh_by_month_models')
              and ind.denominator.get('model', ind.numerator.model) in var('refresh_by_month_models') -%}
            {%- do ids.append(ind.id) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ids) }}
{% endmacro %}

{#- SQL: the indicators whose every value this build rebuilds (int_refresh__indicator). -#}
{%- macro _rebuilt_in_full() -%}
    (select indicator_id from {{ ref('int_refresh__indicator') }} where rebuilt_in_full)
{%- endmacro -%}

{#- True for rows of a month to rebuild. With `indicator` (an id, known when the SQL is written)
    or `indicator_column`, also every row of an indicator rebuilt in full. Always true when the
    model is not being built incrementally. -#}
{% macro refresh_month_filter(month_column, indicator=none, indicator_column=none) %}
    {%- if is_incremental() -%}
    ({% if indicator and indicator not in by_month_indicator_ids() %}'{{ indicator }}' in {{ _rebuilt_in_full() }} or {% endif -%}
     {%- if indicator_column %}{{ indicator_column }} in {{ _rebuilt_in_full() }} or {% endif -%}
     {{ month_column }} in (select month_start from {{ ref('int_refresh__month') }}))
    {%- else -%}true{%- endif -%}
{% endmacro %}

{#- The same for rows keyed by indicator × period: periods containing a month to rebuild
    (complete_only: only those whose every month has data, the only ones that can have values). -#}
{% macro refresh_period_filter(indicator_column, period_type_column, period_start_column, complete_only=false) %}
    {%- if is_incremental() -%}
    ({{ indicator_column }} in {{ _rebuilt_in_full() }}
     or ({{ period_type_column }}, {{ period_start_column }}) in
        (select (period_type, period_start) from {{ ref('int_refresh__period') }}
         {%- if complete_only %} where is_complete{% endif %}))
    {%- else -%}true{%- endif -%}
{% endmacro %}

{#- pre-hooks: clear what the incremental run is about to insert again -#}
{% macro refresh_delete_months(indicator_column=none) %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ refresh_month_filter('month_start', indicator_column=indicator_column) }}
    {%- endif -%}
{% endmacro %}

{% macro refresh_delete_periods() %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ refresh_period_filter('indicator_id', 'period_type', 'period_start') }}
    {%- endif -%}
{% endmacro %}

{#- Models built from reference data alone: rebuilt only when int_refresh__scope says
    rebuild_all (reference data changed), else left as they are. -#}
{% macro refresh_reference_filter() %}
    {%- if is_incremental() -%}
    (select rebuild_all from {{ ref('int_refresh__scope') }})
    {%- else -%}true{%- endif -%}
{% endmacro %}

{% macro refresh_delete_on_rebuild_all() %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ refresh_reference_filter() }}
    {%- endif -%}
{% endmacro %}

{% macro create_build_state() %}
    create schema if not exists raw;
    create table if not exists raw.dbt_built_load (
        load_id varchar, source varchar, source_file varchar, recorded_at timestamp);
{% endmacro %}

{#- on-run-end: after a build that ran every incremental model with no error, failure or skip,
    the loads it was built from become the baseline of the next incremental build (a partial
    `--select` build leaves the baseline alone, so its months are redone next time). -#}
{% macro record_built_loads(results) %}
    {%- if execute -%}
        {%- set bad = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
        {%- set built = results | map(attribute='node') | map(attribute='unique_id') | list -%}
        {%- set incremental = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model'
                                               and node.config.materialized == 'incremental' -%}
            {%- do incremental.append(node.unique_id) -%}
        {%- endfor -%}
        {%- if not bad and incremental and incremental | reject('in', built) | list | length == 0 -%}
            {%- call statement('record_built_loads') -%}
                delete from raw.dbt_built_load;
                insert into raw.dbt_built_load
                select load_id, source, source_file, now()::timestamp
                from raw.load_manifest
                where outcome = 'loaded' and check_status <> 'failed';
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
