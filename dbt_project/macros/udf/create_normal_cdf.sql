{% macro create_normal_cdf() -%}
    {%- set schema = udf_schema() -%}
    create or replace function {{ schema }}.normal_cdf(x double precision)
    returns double precision
    language plpgsql
    immutable
    strict
    parallel safe
    as $body$
    declare
        y double precision := abs(x);
        numerator double precision;
        denominator double precision;
        ratio double precision;
        square double precision;
        rounded double precision;
        tail double precision;
    begin
        if x = 'NaN'::double precision then
            return x;
        end if;
        if y <= 0.67448975 then
            -- Below half an ulp of 1 the polynomial's x^2 terms vanish (and would underflow).
            if y > 1.1102230246251565e-16 then
                square := x * x;
                numerator := 0.065682337918207449113 * square;
                denominator := square;
                numerator := (numerator + 2.2352520354606839287) * square;
                denominator := (denominator + 47.20258190468824187) * square;
                numerator := (numerator + 161.02823106855587881) * square;
                denominator := (denominator + 976.09855173777669322) * square;
                numerator := (numerator + 1067.6894854603709582) * square;
                denominator := (denominator + 10260.932208618978205) * square;
            else
                numerator := 0;
                denominator := 0;
            end if;
            return 0.5 + x * (numerator + 18154.981253343561249)
                / (denominator + 45507.789335026729956);
        end if;
        if x <= -37.5193 then
            return 0;
        end if;
        if x >= 8.2924 then
            return 1;
        end if;
        if y <= 5.656854249492380195206754896838 then
            numerator := 1.0765576773720192317e-8 * y;
            denominator := y;
            numerator := (numerator + 0.39894151208813466764) * y;
            denominator := (denominator + 22.266688044328115691) * y;
            numerator := (numerator + 8.8831497943883759412) * y;
            denominator := (denominator + 235.38790178262499861) * y;
            numerator := (numerator + 93.506656132177855979) * y;
            denominator := (denominator + 1519.377599407554805) * y;
            numerator := (numerator + 597.27027639480026226) * y;
            denominator := (denominator + 6485.558298266760755) * y;
            numerator := (numerator + 2494.5375852903726711) * y;
            denominator := (denominator + 18615.571640885098091) * y;
            numerator := (numerator + 6848.1904505362823326) * y;
            denominator := (denominator + 34900.952721145977266) * y;
            numerator := (numerator + 11602.651437647350124) * y;
            denominator := (denominator + 38912.003286093271411) * y;
            ratio := (numerator + 9842.7148383839780218) / (denominator + 19685.429676859990727);
        else
            square := 1 / (x * x);
            numerator := 0.02307344176494017303 * square;
            denominator := square;
            numerator := (numerator + 0.21589853405795699) * square;
            denominator := (denominator + 1.28426009614491121) * square;
            numerator := (numerator + 0.1274011611602473639) * square;
            denominator := (denominator + 0.468238212480865118) * square;
            numerator := (numerator + 0.022235277870649807) * square;
            denominator := (denominator + 0.0659881378689285515) * square;
            numerator := (numerator + 0.001421619193227893466) * square;
            denominator := (denominator + 0.00378239633202758244) * square;
            ratio := square * (numerator + 2.9112874951168792e-5)
                / (denominator + 7.29751555083966205e-5);
            ratio := (0.398942280401432677939946059934 - ratio) / y;
        end if;
        -- exp(-y²/2) split as exp(-r²/2)·exp(-(y - r)(y + r)/2), r = y rounded down to 1/16:
        -- r² is exact, so the large exponent carries no rounding error (Cody's trick).
        rounded := trunc(y * 16) / 16;
        tail := exp(-rounded * rounded * 0.5) * exp(-(y - rounded) * (y + rounded) * 0.5) * ratio;
        if x > 0 then
            return 1 - tail;
        end if;
        return tail;
    end;
    $body$;
{%- endmacro %}
