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

{#- Crude rate limits at a confidence level: limits on the count (exact below 10, Byar from 10)
    scaled like the rate. `exact_lower`/`exact_upper` come from the poisson_exact_limits seed. -#}
{% macro crude_rate_limit(bound, events, denominator, multiplier, exact_limit, confidence=0.95) -%}
    {%- if bound == 'lower' -%}
    ({{ count_lower_limit(events, exact_limit, confidence) }}) / {{ denominator }} * {{ multiplier }}
    {%- else -%}
    ({{ count_upper_limit(events, exact_limit, confidence) }}) / {{ denominator }} * {{ multiplier }}
    {%- endif -%}
{%- endmacro %}

{#- Wilson score interval for a proportion O/n (PHEindicatormethods phe_proportion):
      (2O + z² ∓ z·sqrt(z² + 4O(1 − O/n))) / (2(n + z²)), times the multiplier (100 for %). -#}
{% macro wilson_limit(bound, events, total, multiplier, confidence=0.95) -%}
    {%- set z = z_value(confidence) -%}
    ((2 * {{ events }} + {{ z }} ^ 2 {{ '-' if bound == 'lower' else '+' }} {{ z }} * sqrt({{ z }} ^ 2 + 4 * {{ events }} * (1 - {{ events }} / {{ total }})))
     / (2 * ({{ total }} + {{ z }} ^ 2)) * {{ multiplier }})
{%- endmacro %}

{#- Directly age-standardised rate, Dobson method (PHEindicatormethods phe_dsr), from sums over
    the 19 ESP2013 bands i of: events O = ΣO_i, dsr = Σ w_i O_i / n_i / Σ w_i × multiplier and
    variance = Σ w_i² O_i / n_i² / (Σ w_i)² × multiplier²:
      limit = dsr + sqrt(variance / O) × (Byar limit on O − O) -#}
{% macro dobson_limit(bound, dsr, variance, events, confidence=0.95) -%}
    ({{ dsr }} + sqrt({{ variance }} / {{ events }})
        * ({{ byar_lower(events, confidence) if bound == 'lower' else byar_upper(events, confidence) }} - {{ events }}))
{%- endmacro %}

{#- Fingertips-style comparison of an area's CI with a comparator's value, through polarity. -#}
{% macro compare_by_ci(comparator_value, is_suppressed, lower, upper, polarity) -%}
    case
        when {{ is_suppressed }} or {{ comparator_value }} is null then 'not compared'
        when {{ lower }} > {{ comparator_value }} then
            case {{ polarity }} when 'lower_is_better' then 'worse' when 'higher_is_better' then 'better' else 'higher' end
        when {{ upper }} < {{ comparator_value }} then
            case {{ polarity }} when 'lower_is_better' then 'better' when 'higher_is_better' then 'worse' else 'lower' end
        else 'similar'
    end
{%- endmacro %}

{#- Directly standardised rate and its variance as aggregates over age bands (one row per band):
    events O_i, population n_i, standard population w_i (PHEindicatormethods phe_dsr). -#}
{% macro dsr_value(events, population, weight, multiplier=100000) -%}
    (sum({{ weight }} * {{ events }} / {{ population }}) / sum({{ weight }}) * {{ multiplier }})
{%- endmacro %}

{% macro dsr_variance(events, population, weight, multiplier=100000) -%}
    (sum({{ weight }} ^ 2 * {{ events }} / {{ population }} ^ 2) / sum({{ weight }}) ^ 2 * {{ multiplier }} ^ 2)
{%- endmacro %}
