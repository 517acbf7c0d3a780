{#
  Indicator methods, written once and used by every indicator (PHEindicatormethods / Fingertips).

  Crude rate CI for a count O of events:
  - O >= 10: Byar's approximation to the Poisson limits
        lower = O * (1 - 1/(9 O) - z / (3 sqrt O))^3
        upper = (O + 1) * (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3
  - O < 10: exact Poisson limits, chi2(alpha/2; 2 O)/2 and chi2(1 - alpha/2; 2 O + 2)/2, read
    from the seed `poisson_exact_limits` (DuckDB has no chi-squared quantile function; the seed's
    values are checked against scipy in tests/test_poisson_seed.py).
  The limits on the count are then divided by the denominator and multiplied like the rate.
#}

{% macro z_value(confidence) -%}
    {%- if confidence == 0.95 -%} 1.959963984540054
    {%- elif confidence == 0.998 -%} 3.090232306167813
    {%- else -%} {{ exceptions.raise_compiler_error("unsupported confidence level " ~ confidence) }}
    {%- endif -%}
{%- endmacro %}

{% macro byar_lower(events, confidence=0.95) -%}
    ({{ events }} * power(1 - 1 / (9.0 * {{ events }}) - {{ z_value(confidence) }} / (3 * sqrt({{ events }})), 3))
{%- endmacro %}

{% macro byar_upper(events, confidence=0.95) -%}
    (({{ events }} + 1) * power(1 - 1 / (9.0 * ({{ events }} + 1)) + {{ z_value(confidence) }} / (3 * sqrt({{ events }} + 1)), 3))
{%- endmacro %}

{#- Limits on the expected count: exact Poisson (seed columns) below 10 events, Byar's from 10. -#}
{% macro count_lower_limit(events, exact_lower, confidence=0.95) -%}
    case when {{ events }} < 10 then {{ exact_lower }} else {{ byar_lower(events, confidence) }} end
{%- endmacro %}

{% macro count_upper_limit(events, exact_upper, confidence=0.95) -%}
    case when {{ events }} < 10 then {{ exact_upper }} else {{ byar_upper(events, confidence) }} end
{%- endmacro %}
