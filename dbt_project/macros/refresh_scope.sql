{#- Incremental builds: rebuild only what a change in the deliveries can move.

    raw.dbt_built_load keeps the accepted loads as of the last complete build (on-run-end).
    int_refresh__changed_load compares it with the accepted loads now, each with its source's
    declared refresh kind (raw.source_registry, written from ingestion/sources):
      reference        (lookups, population, IMD) rebuilds everything (int_refresh__scope);
      revises_history  (outcomes, force extracts) rebuilds in full what is counted from it;
      by_period        (police.uk street files) rebuilds only the periods its deliveries hold
                       (raw.load_period → int_refresh__source_period), and the reporting periods
                       containing them (int_refresh__period).
    Which sources a model or an indicator is counted from is read from dbt's own lineage
    (lineage_raw_tables), so no list of sources is written here. A --full-refresh build
    rebuilds everything. -#}

{#- The raw tables (schema.table) the given nodes read, following the lineage through every
    model (the pipeline's own refresh models excepted). Empty while dbt parses. -#}
{% macro lineage_raw_tables(unique_ids) %}
    {%- set queue = [] -%}
    {%- set tables = [] -%}
    {%- if execute -%}
        {%- for id in unique_ids -%}{%- do queue.append(id) -%}{%- endfor -%}
        {#- the queue grows while it is walked: a breadth-first search without recursion -#}
        {%- for id in queue -%}
            {%- if id in graph.sources -%}
                {%- set table = graph.sources[id].schema ~ '.' ~ graph.sources[id].identifier -%}
                {%- if table not in tables %}{% do tables.append(table) %}{% endif -%}
            {%- elif id in graph.nodes and not graph.nodes[id].name.startswith('int_refresh__') -%}
                {%- for parent in graph.nodes[id].depends_on.nodes if parent not in queue -%}
                    {%- do queue.append(parent) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tables) }}
{% endmacro %}

{#- The raw tables an indicator is counted from: its numerator's and denominator's models. -#}
{% macro indicator_raw_tables(ind) %}
    {%- set ids = ['model.' ~ project_name ~ '.' ~ ind.numerator.model] -%}
    {%- if ind.denominator.get('model') -%}{%- do ids.append('model.' ~ project_name ~ '.' ~ ind.denominator.model) -%}{%- endif -%}
    {{ return(lineage_raw_tables(ids)) }}
{% endmacro %}

{% macro sql_list(values) -%}
    {%- for v in values %}'{{ v }}'{{ ', ' if not loop.last }}{% else %}null{% endfor -%}
{%- endmacro %}

{#- SQL: the indicators whose every value this build rebuilds (int_refresh__indicator). -#}
{%- macro _rebuilt_in_full() -%}
    (select indicator_id from {{ ref('int_refresh__indicator') }} where rebuilt_in_full)
{%- endmacro -%}

{#- True for rows of a month to rebuild. With `indicator` (an id, known when the SQL is written)
    or `indicator_column`: months of that indicator (int_refresh__indicator_month), or every row
    of an indicator rebuilt in full. Without: months of the current model's by_period sources, or
    every row when the model is rebuilt in full. Always true when not building incrementally. -#}
{% macro refresh_month_filter(month_column, indicator=none, indicator_column=none) %}
    {%- if is_incremental() -%}
    {%- if indicator or indicator_column -%}
    {%- set id = "'" ~ indicator ~ "'" if indicator else indicator_column -%}
    ({{ id }} in {{ _rebuilt_in_full() }}
     or ({{ id }}, {{ month_column }}) in (select (indicator_id, month_start) from {{ ref('int_refresh__indicator_month') }}))
    {%- else -%}
    {%- set tables = lineage_raw_tables([model.unique_id]) -%}
    {#- decided when the model is run, from the refresh models built before it, and written as
        literals: DuckDB then prunes the other months at the scan (a subquery here made a
        one-month build read every month's records) -#}
    {%- set scope_query -%}
    select
        (select rebuild_all from {{ ref('int_refresh__scope') }})
        or exists (select 1 from {{ ref('int_refresh__changed_load') }}
                   where refresh = 'revises_history' and raw_table in ({{ sql_list(tables) }})) as everything,
        (select string_agg(distinct strftime(period_start, '%Y-%m-%d'), ',') from {{ ref('int_refresh__source_period') }}
         where period_type = 'month' and raw_table in ({{ sql_list(tables) }})) as months
    {%- endset -%}
    {%- set scope = run_query(scope_query).rows[0] if execute else [true, none] -%}
    {%- if scope[0] -%}true
    {%- elif scope[1] -%}{{ month_column }} in ({% for m in scope[1].split(',') | sort %}date '{{ m }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- else -%}false{%- endif -%}
    {%- endif -%}
    {%- else -%}true{%- endif -%}
{% endmacro %}

{#- The same for rows keyed by indicator × period: periods of the indicator containing a month
    to rebuild (complete_only: only those whose every month has data, the only ones that can have
    values), or every period of an indicator rebuilt in full. -#}
{% macro refresh_period_filter(indicator_column, period_type_column, period_start_column, complete_only=false) %}
    {%- if is_incremental() -%}
    ({{ indicator_column }} in {{ _rebuilt_in_full() }}
     or ({{ indicator_column }}, {{ period_type_column }}, {{ period_start_column }}) in
        (select (indicator_id, period_type, period_start) from {{ ref('int_refresh__period') }}
         {%- if complete_only %} where is_complete{% endif %}))
    {%- else -%}true{%- endif -%}
{% endmacro %}

{#- True for months in which a month value of any of the given indicators is rebuilt
    (int_refresh__period), or for every month when one of them is rebuilt in full: for rows that
    put several indicators' month values side by side. -#}
{% macro refresh_indicators_month_filter(month_column, indicator_ids) %}
    {%- if is_incremental() -%}
    (exists (select 1 from {{ _rebuilt_in_full() }} as f where f.indicator_id in ({{ sql_list(indicator_ids) }}))
     or {{ month_column }} in (select period_start from {{ ref('int_refresh__period') }}
                               where period_type = 'month' and indicator_id in ({{ sql_list(indicator_ids) }})))
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

{#- True when reference data changed (everything is rebuilt), as a literal decided when the model
    runs, so DuckDB skips the whole query when it is false. -#}
{% macro refresh_reference_filter() %}
    {%- if is_incremental() -%}
    {%- set rebuild = run_query("select rebuild_all from " ~ ref('int_refresh__scope')).rows[0][0] if execute else true -%}
    {{ 'true' if rebuild else 'false' }}
    {%- else -%}true{%- endif -%}
{% endmacro %}

{% macro refresh_delete_indicators_months(indicator_ids) %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ refresh_indicators_month_filter('month_start', indicator_ids) }}
    {%- endif -%}
{% endmacro %}

{% macro refresh_delete_on_rebuild_all() %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ refresh_reference_filter() }}
    {%- endif -%}
{% endmacro %}

{#- on-run-start: the build-state tables, and (for a command that writes models) when it started,
    so publishing refuses marts changed since their last Great Expectations check (ingestion/publish.py) -#}
{% macro create_build_state() %}
    create schema if not exists raw;
    create table if not exists raw.dbt_built_load (
        load_id varchar, source varchar, source_file varchar, recorded_at timestamp);
    create table if not exists raw.dbt_build_started (started_at timestamp);
    create table if not exists raw.dbt_build_state (fingerprint varchar, recorded_at timestamp);
    {%- if flags.WHICH in ['build', 'run', 'seed', 'snapshot'] %}
    delete from raw.dbt_build_started;
    insert into raw.dbt_build_started values ((now() at time zone 'UTC')::timestamp);
    {%- endif %}
{% endmacro %}

{#- on-run-end: after a build with no error, failure or skip that ran every incremental model the
    changed deliveries reach (all of them on a full refresh, when reference data changed or when
    this project's files were never built; ingestion/build_state.py selects only those nodes when
    it can), the loads it was built from become the baseline of the next incremental build (a
    narrower `--select` build leaves the baseline alone, so its months are redone next time), and
    the project's fingerprint (VRU_BUILD_FINGERPRINT, from ingestion/build_state.py) is recorded,
    so a run with nothing new and the same project skips dbt altogether. -#}
{% macro record_built_loads(results) %}
    {%- if execute -%}
        {%- set bad = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
        {%- set built = results | map(attribute='node') | map(attribute='unique_id') | list -%}
        {#- a partial build may not have made the refresh models yet: then nothing is recorded -#}
        {%- set scoped = run_query("select count(*) > 0 from information_schema.tables where table_schema = "
                                   ~ "'intermediate' and table_name = 'int_refresh__changed_load'").rows[0][0] -%}
        {%- set changed = run_query("select coalesce(bool_or(refresh = 'reference'), false), "
                                    ~ "list(distinct raw_table) filter (where raw_table is not null) "
                                    ~ "from intermediate.int_refresh__changed_load").rows[0] if scoped else [true, []] -%}
        {#- everything is due on a full refresh, when reference data changed, and when no complete
            build of this project (its fingerprint) is recorded -#}
        {%- set recorded = run_query("select count(*) > 0 and bool_and(fingerprint = '"
                                     ~ env_var("VRU_BUILD_FINGERPRINT", "") ~ "') from raw.dbt_build_state").rows[0][0] -%}
        {%- set everything = flags.FULL_REFRESH or changed[0] or not recorded
                             or run_query("select count(*) = 0 from raw.dbt_built_load").rows[0][0] -%}
        {%- set needed = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model'
                                               and node.config.materialized == 'incremental' -%}
            {%- if everything or lineage_raw_tables([node.unique_id]) | select('in', changed[1] or []) | list -%}
                {%- do needed.append(node.unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not bad and built and needed | reject('in', built) | list | length == 0 -%}
            {%- call statement('record_built_loads') -%}
                delete from raw.dbt_built_load;
                insert into raw.dbt_built_load
                select load_id, source, source_file, now()::timestamp from raw.accepted_load;
                delete from raw.dbt_build_state;
                insert into raw.dbt_build_state
                values ('{{ env_var("VRU_BUILD_FINGERPRINT", "") }}', (now() at time zone 'UTC')::timestamp);
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
