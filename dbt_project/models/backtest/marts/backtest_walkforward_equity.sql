{#- A view over the folds' test runs (marts.backtest_equity, book 'total'). -#}
{{ config(materialized='view') }}

with

tests as (
    select
        run_id,
        test_run_id,
        fold
    from {{ ref('backtest_walkforward_folds') }}
    where test_run_id is not null
),

runs as (
    select
        run_id,
        initial_cash
    from {{ ref('stg_trading__backtest_runs') }}
),

fold_bars as (
    select
        tests.run_id,
        tests.fold,
        equity.ts,
        equity.marked_at,
        equity.equity,
        equity.open_positions,
        equity.fill_count,
        runs.initial_cash,
        last_value(equity.equity) over fold_series / runs.initial_cash as fold_growth,
        row_number() over (
            partition by tests.run_id, tests.fold order by equity.ts desc
        ) = 1 as is_last_bar
    from tests
    inner join {{ ref('backtest_equity') }} as equity
        on tests.test_run_id = equity.run_id
    inner join runs
        on tests.test_run_id = runs.run_id
    where equity.book = 'total' and equity.trial = 1
    window fold_series as (
        partition by tests.run_id, tests.fold order by equity.ts
        rows between unbounded preceding and unbounded following
    )
),

{#- Each fold starts where the previous ones left the money: the product of their growths. #}
carried as (
    select
        run_id,
        fold,
        coalesce(
            exp(sum(ln(fold_growth)) over (
                partition by run_id order by fold
                rows between unbounded preceding and 1 preceding
            )),
            1
        ) as carried_growth
    from fold_bars
    where is_last_bar
),

final as (
    select
        cast(fold_bars.run_id as uuid) as run_id,
        cast(fold_bars.fold as integer) as fold,
        cast(fold_bars.ts as timestamptz) as ts,
        cast(fold_bars.marked_at as timestamptz) as marked_at,
        trim_scale(cast(fold_bars.initial_cash as numeric)) as initial_cash,
        cast(
            fold_bars.initial_cash * carried.carried_growth * fold_bars.equity / fold_bars.initial_cash
            as double precision
        ) as equity,
        cast(fold_bars.open_positions as bigint) as open_positions,
        cast(fold_bars.fill_count as bigint) as fill_count
    from fold_bars
    inner join carried
        on fold_bars.run_id = carried.run_id and fold_bars.fold = carried.fold
)

select * from final
