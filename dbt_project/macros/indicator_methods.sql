{#
  Indicator methods, written once and used by every indicator (PHEindicatormethods / Fingertips).

  Crude rate CI for a count O of events:
  - O >= 10: Byar's approximation to the Poisson limits
        lower = O * (1 - 1/(9 O) - z / (3 sqrt O))^3
        upper = (O + 1) * (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3
  - O < 10: exact Poisson limits, chi2(alpha/2; 2 O)/2 and chi2(1 - alpha/2; 2 O + 2)/2, from
    poisson_exact_limits() below (DuckDB has no chi-squared quantile function; its values are
    checked against scipy in tests/test_indicator_methods.py).
  The limits on the count are then divided by the denominator and multiplied like the rate.
#}

{#- The two-sided normal quantile z of a confidence level from 0.90 to 0.999 (0.95: 1.959964;
    0.998: 3.090232), written into the SQL as a number: a level outside that range stops the build. -#}
{% macro z_value(confidence) -%}
    {%- if not (confidence is number and 0.90 <= confidence <= 0.999) -%}
        {{ exceptions.raise_compiler_error("confidence level " ~ confidence ~ " is not a number from 0.90 to 0.999") }}
    {%- endif -%}
    {{ normal_quantile(1 - (1 - confidence) / 2) }}
{%- endmacro %}

{#- The standard normal quantile of a number p (0 < p < 1) as Jinja computes it when the SQL is
    written, by Wichura's algorithm AS241 (PPND16, Applied Statistics 37, 1988), accurate to about
    1e-16: DuckDB has no inverse normal, and the expression written out in SQL was too large for
    the linter. -#}
{% macro normal_quantile(p) -%}
    {%- if not (p is number and 0 < p < 1) -%}
        {{ exceptions.raise_compiler_error("normal_quantile needs a number between 0 and 1, not " ~ p) }}
    {%- endif -%}
    {%- set q = p - 0.5 -%}
    {%- if q | abs <= 0.425 -%}
        {%- set r = 0.180625 - q * q -%}
        {%- set value = q * _horner([3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
                                     1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
                                     3.3430575583588128105e+4, 2.5090809287301226727e+3], r)
                           / _horner([1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
                                      2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
                                      5.2264952788528545610e+3], r) -%}
    {%- else -%}
        {%- set r = (-_ln([p, 1 - p] | min)) ** 0.5 -%}
        {%- if r <= 5 -%}
            {%- set r = r - 1.6 -%}
            {%- set value = _horner([1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
                                     3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
                                     2.27238449892691845833e-2, 7.74545014278341407640e-4], r)
                            / _horner([1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
                                       1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                                       1.05075007164441684324e-9], r) -%}
        {%- else -%}
            {%- set r = r - 5 -%}
            {%- set value = _horner([6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
                                     2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                                     2.71155556874348757815e-5, 2.01033439929228813265e-7], r)
                            / _horner([1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
                                       7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
                                       2.04426310338993978564e-15], r) -%}
        {%- endif -%}
        {%- set value = -value if q < 0 else value -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- c0 + x(c1 + x(c2 + …)), in Jinja -#}
{% macro _horner(coefficients, x) -%}
    {%- set ns = namespace(value=0.0) -%}
    {%- for coefficient in coefficients | reverse -%}
        {%- set ns.value = coefficient + x * ns.value -%}
    {%- endfor -%}
    {{ return(ns.value) }}
{%- endmacro %}

{#- Exact Poisson limits on a count of 0 to 9 events at each confidence level, as a query with
    columns events, confidence, lower_events and upper_events: the λ with P(X ≥ O; λ) = α/2 and the
    λ with P(X ≤ O; λ) = α/2 (chi²(α/2; 2O)/2 and chi²(1 − α/2; 2O + 2)/2), found by Newton's
    method in Jinja when the SQL is written (DuckDB has no chi-squared quantile), to about 1e-13. -#}
{% macro poisson_exact_limits(confidences=[0.95, 0.998]) -%}
    {%- set rows = [] -%}
    {%- for confidence in confidences -%}
        {%- set z = z_value(confidence) | float -%}    {#- with the same range check as every method -#}
        {%- set alpha = 1 - confidence -%}
        {%- for events in range(10) -%}
            {#- Newton starts from Byar's limits (a lower one below zero from nearly zero) -#}
            {%- set lower = 0.0 if events == 0 else _poisson_root(
                events - 1, 1 - alpha / 2, events * (1 - 1 / (9 * events) - z / (3 * events ** 0.5)) ** 3) -%}
            {%- set upper = _poisson_root(
                events, alpha / 2, (events + 1) * (1 - 1 / (9 * (events + 1)) + z / (3 * (events + 1) ** 0.5)) ** 3) -%}
            {%- do rows.append('(' ~ events ~ ', ' ~ confidence ~ '::double, ' ~ lower ~ '::double, ' ~ upper ~ '::double)') -%}
        {%- endfor -%}
    {%- endfor -%}
    select * from (values {{ rows | join(', ') }}) as limits (events, confidence, lower_events, upper_events)
{%- endmacro %}

{#- The λ at which P(X ≤ k) = target for X ~ Poisson(λ) (P falls as λ grows): Newton's method on
    P, whose slope is −P(X = k), from `start`, kept above zero; it stops once a step changes λ by
    less than 1e-15 of it. -#}
{% macro _poisson_root(k, target, start) -%}
    {%- set ns = namespace(x=[start, 1e-6] | max, done=false) -%}
    {%- for _ in range(60) if not ns.done -%}
        {%- set term = namespace(value=1.0, total=1.0) -%}
        {%- for i in range(1, k + 1) -%}
            {%- set term.value = term.value * ns.x / i -%}
            {%- set term.total = term.total + term.value -%}
        {%- endfor -%}
        {#- e^−λ (Jinja has no exp): −λ = j·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its series -#}
        {%- set j = (-ns.x / 0.6931471805599453) | round | int -%}
        {%- set r = -ns.x - j * 0.6931471805599453 -%}
        {%- set series = namespace(term=1.0, total=1.0) -%}
        {%- for n in range(1, 25) -%}
            {%- set series.term = series.term * r / n -%}
            {%- set series.total = series.total + series.term -%}
        {%- endfor -%}
        {%- set weight = series.total * 2.0 ** j -%}
        {%- set step = (weight * term.total - target) / (weight * term.value) -%}
        {%- set next = ns.x + step if ns.x + step > 0 else ns.x / 2 -%}
        {%- set ns.done = (next - ns.x) | abs <= 1e-15 * ns.x -%}
        {%- set ns.x = next -%}
    {%- endfor -%}
    {{ return(ns.x) }}
{%- endmacro %}

{#- The natural logarithm of a number x > 0, in Jinja (which has none): x = m·2^k with m in
    [0.5, 1), then ln m = 2·atanh((m − 1)/(m + 1)) by its series, whose terms fall by 9× or more. -#}
{% macro _ln(x) -%}
    {%- set ns = namespace(m=x, k=0, total=0.0) -%}
    {%- for _ in range(20) if ns.m < 2.0 ** -64 %}{% set ns.m = ns.m * 2.0 ** 64 %}{% set ns.k = ns.k - 64 %}{% endfor -%}
    {%- for _ in range(20) if ns.m >= 2.0 ** 64 %}{% set ns.m = ns.m / 2.0 ** 64 %}{% set ns.k = ns.k + 64 %}{% endfor -%}
    {%- for _ in range(70) if ns.m < 0.5 %}{% set ns.m = ns.m * 2 %}{% set ns.k = ns.k - 1 %}{% endfor -%}
    {%- for _ in range(70) if ns.m >= 1 %}{% set ns.m = ns.m / 2 %}{% set ns.k = ns.k + 1 %}{% endfor -%}
    {%- set y = (ns.m - 1) / (ns.m + 1) -%}
    {%- for j in range(40) -%}
        {%- set ns.total = ns.total + y ** (2 * j + 1) / (2 * j + 1) -%}
    {%- endfor -%}
    {{ return(2 * ns.total + ns.k * 0.6931471805599453) }}
{%- endmacro %}

{#- Byar's lower limit; null where it would fall below zero (PHEindicatormethods withholds it
    there: only small counts at high confidence, which take the exact limits anyway) -#}
{% macro byar_lower(events, confidence=0.95) -%}
    {%- set base = '(1 - 1 / (9.0 * ' ~ events ~ ') - ' ~ z_value(confidence) ~ ' / (3 * sqrt(' ~ events ~ ')))' -%}
    (case when {{ base }} >= 0 then {{ events }} * power({{ base }}, 3) end)
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
    scaled like the rate. `exact_lower`/`exact_upper` come from poisson_exact_limits(). -#}
{% macro crude_rate_limit(bound, events, denominator, multiplier, exact_limit, confidence=0.95) -%}
    {%- if bound == 'lower' -%}
    ({{ count_lower_limit(events, exact_limit, confidence) }}) / {{ denominator }} * {{ multiplier }}
    {%- else -%}
    ({{ count_upper_limit(events, exact_limit, confidence) }}) / {{ denominator }} * {{ multiplier }}
    {%- endif -%}
{%- endmacro %}

{#- Wilson score interval for a proportion O/n (PHEindicatormethods phe_proportion):
      (2O + z² ∓ z·sqrt(z² + 4O(1 − O/n))) / (2(n + z²)), times the multiplier (100 for %). -#}
{#- At the edges the limit is exact, as in PHEindicatormethods: 0 events give a lower limit of
    exactly 0, and O = n an upper limit of exactly 1 (times the multiplier), not a rounding away. -#}
{% macro wilson_limit(bound, events, total, multiplier, confidence=0.95) -%}
    {%- set z = z_value(confidence) -%}
    (case when {{ events }} = {{ '0' if bound == 'lower' else total }} then {{ '0' if bound == 'lower' else '1' }}
          else (2 * {{ events }} + {{ z }} ^ 2 {{ '-' if bound == 'lower' else '+' }} {{ z }} * sqrt({{ z }} ^ 2 + 4 * {{ events }} * (1 - {{ events }} / {{ total }})))
               / (2 * ({{ total }} + {{ z }} ^ 2)) end * {{ multiplier }})
{%- endmacro %}

{#- Directly age-standardised rate, Dobson method (PHEindicatormethods calculate_dsr), from sums
    over the 19 ESP2013 bands i of: events O = ΣO_i, dsr = Σ w_i O_i / n_i / Σ w_i × multiplier and
    variance = Σ w_i² O_i / n_i² / (Σ w_i)² × multiplier²:
      limit = dsr + sqrt(variance / O) × (Byar limit on O − O)
    Neither the rate nor its limits exist below dsr_minimum_events() events (the method's own rule,
    whatever the disclosure rule). -#}
{% macro dsr_minimum_events() %}10{% endmacro %}

{% macro dsr_rate(dsr, events) -%}
    (case when {{ events }} >= {{ dsr_minimum_events() }} then {{ dsr }} end)
{%- endmacro %}

{% macro dobson_limit(bound, dsr, variance, events, confidence=0.95) -%}
    (case when {{ events }} >= {{ dsr_minimum_events() }} then {{ dsr }} + sqrt({{ variance }} / {{ events }})
        * ({{ byar_lower(events, confidence) if bound == 'lower' else byar_upper(events, confidence) }} - {{ events }}) end)
{%- endmacro %}

{#- Why an indicator's input cannot be valued (null when it can): the build stops on any of these,
    naming the indicator, area and period (int_indicator__value). Zero events over a zero
    denominator is no value, not an error: no crimes in an area-month leave no charged share. -#}
{% macro invalid_indicator_input(numerator, denominator, method) -%}
    case
        when {{ numerator }} < 0 then 'negative numerator'
        when {{ denominator }} < 0 then 'negative denominator'
        when {{ denominator }} = 0 and {{ numerator }} > 0 then 'events over a zero denominator'
        when {{ method }} = 'proportion' and {{ numerator }} > {{ denominator }} then 'numerator greater than the denominator of a proportion'
    end
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

{#- Funnel plot control limits around a comparator, at one area's own precision (the limits a
    funnel plot draws at that area's denominator), and PHEindicatormethods' funnel significance.

    Proportions (calculate_funnel_limits, statistic 'proportion'): the proportion whose Wilson
    limit at confidence c just reaches the comparator p, for n = the area's denominator and
    q = z(c); the lower limit is held at 0 and the upper at 1 (times the multiplier). -#}
{% macro funnel_proportion_limit(bound, denominator, comparator, multiplier, confidence) -%}
    {%- set q2 = z_value(confidence) ~ ' ^ 2' -%}
    {%- set n, p = denominator, comparator -%}
    {%- set root = 'sqrt((-8 * ' ~ p ~ ' * (' ~ n ~ ' / ' ~ q2 ~ ' + 1)) ^ 2 - 64 * (1 / ' ~ q2 ~ ' + 1 / ' ~ n ~ ') * ' ~ p
                   ~ ' * (' ~ n ~ ' * (' ~ p ~ ' * (' ~ n ~ ' / ' ~ q2 ~ ' + 2) - 1) + ' ~ q2 ~ ' * (' ~ p ~ ' - 1)))' -%}
    {%- set limit = '((' ~ p ~ ' * (' ~ n ~ ' / ' ~ q2 ~ ' + 1) ' ~ ('-' if bound == 'lower' else '+') ~ ' ' ~ root
                    ~ ' / 8) / (1 / ' ~ q2 ~ ' + 1 / ' ~ n ~ ') / ' ~ n ~ ')' -%}
    ({{ 'greatest(' ~ limit ~ ', 0)' if bound == 'lower' else 'least(' ~ limit ~ ', 1)' }} * {{ multiplier }})
{%- endmacro %}

{#- Rates, DSRs and ratios (calculate_funnel_limits, statistic 'rate' or 'ratio'): the value on the
    control line at an area whose expected count is λ = comparator × denominator, the count O whose
    exact Poisson limit equals λ (the lower line: O's upper limit; the upper: its lower limit), as
    PHEindicatormethods draws these lines from exact chi-squared quantiles, taken as a continuous
    line through its whole-count points. DuckDB has no incomplete gamma: poisson_funnel_lines is a
    function the dbt connection registers (ingestion/poisson_funnel.py), giving both lines' counts
    at a confidence level; `funnel_count_lines` calls it, `funnel_count_limit` reads one line of
    its result (one call for both lines: each call of a Python function has a fixed cost). The
    lower line is 0 where no count is low enough. -#}
{% macro funnel_count_lines(expected, confidence) -%}
    poisson_funnel_lines({{ expected }}, {{ confidence }})
{%- endmacro %}

{% macro funnel_count_limit(bound, lines, denominator, multiplier) -%}
    ({{ lines }}.{{ bound }} / {{ denominator }} * {{ multiplier }})
{%- endmacro %}

{#- PHEindicatormethods assign_funnel_significance: High or Low at 0.001 (outside the 99.8%
    limits) or 0.025 (outside the 95%), else Not significant, from the area's own limits at each
    level against the comparator (for a proportion or crude rate, its published CI; for a DSR, the
    Byar limits on its count scaled by DSR / count, as that function does). -#}
{% macro funnel_significance(comparator, lower_95, upper_95, lower_998, upper_998) -%}
    case
        when {{ comparator }} is null or {{ lower_95 }} is null then null
        when {{ lower_998 }} > {{ comparator }} then 'High (0.001)'
        when {{ lower_95 }} > {{ comparator }} then 'High (0.025)'
        when {{ upper_998 }} < {{ comparator }} then 'Low (0.001)'
        when {{ upper_95 }} < {{ comparator }} then 'Low (0.025)'
        else 'Not significant'
    end
{%- endmacro %}
