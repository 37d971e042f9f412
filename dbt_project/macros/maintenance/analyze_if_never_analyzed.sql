{% macro analyze_if_never_analyzed(relation) -%}
    do $body$
    begin
        if exists (
            select
            from pg_stat_user_tables
            where
                relid = cast('{{ relation }}' as regclass)
                and last_analyze is null
                and last_autoanalyze is null
        ) then
            analyze {{ relation }};
        end if;
    end;
    $body$
{%- endmacro %}
