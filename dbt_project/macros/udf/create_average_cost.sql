{% macro create_average_cost() -%}
    {%- set schema = udf_schema() -%}
    create or replace function {{ schema }}.average_cost_step(
        state numeric[],
        signed_qty numeric,
        price numeric
    )
    returns numeric[]
    language plpgsql
    immutable
    strict
    parallel safe
    as $body$
    declare
        held numeric := state[1];
        cost numeric := state[2];
        after numeric := state[1] + signed_qty;
    begin
        if after = 0 then
            return array[0, null]::numeric[];
        elsif held = 0 or sign(held) = sign(signed_qty) then
            return array[after, (held * coalesce(cost, 0) + signed_qty * price) / after];
        elsif sign(after) = sign(held) then
            return array[after, cost];
        else
            return array[after, price];
        end if;
    end;
    $body$;

    create or replace function {{ schema }}.average_cost_final(state numeric[])
    returns numeric
    language sql
    immutable
    strict
    parallel safe
    as $body$
        select case when state[1] <> 0 then state[2] end
    $body$;

    create or replace aggregate {{ schema }}.average_cost(numeric, numeric) (
        sfunc = {{ schema }}.average_cost_step,
        stype = numeric[],
        finalfunc = {{ schema }}.average_cost_final,
        initcond = '{0,NULL}'
    );
{%- endmacro %}
