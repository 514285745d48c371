//! The query's SQL: built from the shorthands, its columns checked, rewritten so report labels sort in
//! their natural order and a division is a float, and bounded in depth before polars parses it.

use crate::columns::SUM_METRICS;
use crate::commands::query::args::QueryArgs;
use crate::error::QueryError;

/// The SQL of a query: as given, or built from the shorthands.
pub(super) fn build_sql(args: &QueryArgs) -> Result<String, QueryError> {
    let shorthand = args.filter.is_some() || !args.by.is_empty() || args.top.is_some();
    match (&args.sql, shorthand) {
        (Some(_), true) => return Err(QueryError::Both),
        (Some(sql), false) => return Ok(sql.clone()),
        (None, false) => return Err(QueryError::Nothing),
        (None, true) => {}
    }
    let filter = args
        .filter
        .as_ref()
        .map(|w| format!(" WHERE {w}"))
        .unwrap_or_default();
    let order_by = |default: String| match (&args.order_by, args.top) {
        (Some(col), _) => Ok(format!(" ORDER BY {} DESC", quote(col))),
        (None, Some(_)) => Err(QueryError::TopWithoutOrder),
        (None, None) => Ok(default),
    };
    let limit = args.top.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    if !args.by.is_empty() {
        let by = args
            .by
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        let order = order_by(format!(" ORDER BY {by}"))?;
        return Ok(format!(
            "SELECT {by}, {} FROM accounts{filter} GROUP BY {by}{order}{limit}",
            metrics()
        ));
    }
    let order = order_by(String::new())?;
    Ok(format!("SELECT * FROM accounts{filter}{order}{limit}"))
}

/// The metric columns of a `--by` answer beyond the summary tables' sums.
pub(super) const RATIO_METRICS: [&str; 2] = ["share_underwater", "avg_ltv"];

/// Every column a shorthand names must exist: an unknown one is refused with the list of columns,
/// before polars sees it (`--order-by` may also name a metric of `--by`).
pub(super) fn check_columns(args: &QueryArgs, columns: &[String]) -> Result<(), QueryError> {
    let known = |c: &str| columns.iter().any(|k| k == c.trim());
    let metric = |c: &str| {
        let c = c.trim();
        !args.by.is_empty() && (SUM_METRICS.contains(&c) || RATIO_METRICS.contains(&c))
    };
    let unknown = args
        .by
        .iter()
        .find(|c| !known(c))
        .or(args.order_by.as_ref().filter(|c| !known(c) && !metric(c)));
    match unknown {
        Some(column) => Err(QueryError::UnknownColumn {
            column: column.clone(),
            available: columns.join(", "),
        }),
        None => Ok(()),
    }
}

/// The standard metrics of the summary reports, as SQL aggregates: money sums stay exact decimals;
/// `share_underwater` (of the valued open accounts, as in the summary tables) and `avg_ltv` (balance-weighted, from the exact ratio balance /
/// value over valued accounts) are floats at full precision, where summary_by_*.csv rounds to 4 places.
pub(super) fn metrics() -> String {
    [
        "COUNT(*) AS accounts",
        "SUM(CASE WHEN balance = 0 THEN 1 ELSE 0 END) AS closed_accounts",
        "SUM(CASE WHEN value IS NOT NULL AND balance > 0 THEN 1 ELSE 0 END) AS valued_accounts",
        "SUM(balance) AS balance",
        "SUM(value) AS value",
        "SUM(CASE WHEN negative_equity > 0 THEN 1 ELSE 0 END) AS underwater_accounts",
        "SUM(negative_equity) AS negative_equity",
        "SUM(deficiency_if_default) AS deficiency_if_default",
        "SUM(expected_deficiency) AS expected_deficiency",
        "SUM(CASE WHEN negative_equity > 0 THEN 1 ELSE 0 END) \
         / NULLIF(SUM(CASE WHEN value IS NOT NULL AND balance > 0 THEN 1 ELSE 0 END), 0) AS share_underwater",
        "SUM(CASE WHEN value IS NOT NULL THEN balance * balance / value END) \
         / SUM(CASE WHEN value IS NOT NULL THEN balance END) AS avg_ltv",
    ]
    .join(", ")
}

pub(super) fn quote(column: &str) -> String {
    format!("\"{}\"", column.trim().replace('"', "\"\""))
}

/// Rewrites an analyst's SQL so it cannot print a silently wrong number or order:
///
/// - polars divides two decimals at their own scale, so `SUM(expected_deficiency) / SUM(balance)` on
///   money (2 places) gives 0.01 for 0.0081. Every `/` is therefore done in 64-bit floats, which [`cell`]
///   prints at full precision.
/// - `ORDER BY` puts missing values last unless the SQL says `NULLS FIRST`.
/// - `ORDER BY` a column of ordered labels (`ltv_bucket`, `credit_tier`, `term_band`, …) sorts in the
///   report's order rather than as text: the column is replaced in the ORDER BY by a `CASE` giving each
///   label its rank (labels it does not know sort last, as text after them).
///
/// Whether the SQL multiplies: the one way a query of money reaches past the 38 digits of a decimal
/// (a sum of plain balances would need 10^36 dollars), so the answer is checked for a wrapped number.
/// SQL that sqlparser cannot read counts as multiplying when it holds a `*` outside `(*)` and `SELECT *`.
pub(super) fn multiplies(sql: &str) -> bool {
    use sqlparser::ast::{visit_expressions, BinaryOperator, Expr};
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;
    if !sql.contains('*') {
        return false;
    }
    let Ok(statements) = Parser::parse_sql(&GenericDialect, sql) else {
        let rest = sql
            .replace("(*)", "")
            .to_ascii_lowercase()
            .replace("select *", "");
        return rest.contains('*');
    };
    visit_expressions(&statements, |e| match e {
        Expr::BinaryOp {
            op: BinaryOperator::Multiply,
            ..
        } => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// A window ordered in mixed directions (`ROW_NUMBER() OVER (PARTITION BY state ORDER BY negative_equity
/// DESC, account_id)`, the common top-N per group), which polars refuses, in one direction: a
/// descending key becomes `key IS NULL` (missing values last, as everywhere in `query`; `IS NOT NULL`
/// with `NULLS FIRST`) then the key negated. A text key cannot be negated, nor two descending keys
/// named apart: polars then refuses the query, never orders it wrongly.
fn one_direction_window(e: &mut sqlparser::ast::Expr) {
    use sqlparser::ast::{Expr, OrderByExpr, OrderByOptions, WindowType};
    let Expr::Function(f) = e else { return };
    let Some(WindowType::WindowSpec(spec)) = f.over.as_mut() else {
        return;
    };
    let desc = |o: &OrderByExpr| o.options.asc == Some(false);
    let mixed = spec.order_by.iter().any(desc) && !spec.order_by.iter().all(desc);
    if !mixed {
        return;
    }
    let ascending = |expr: Expr| OrderByExpr {
        expr,
        options: OrderByOptions {
            asc: Some(true),
            nulls_first: None,
        },
        with_fill: None,
    };
    // polars names a sort key after its leftmost column and refuses two of one name: a descending key
    // becomes `key IS NULL` (named after the key) then `0 - key` (named `literal`); an ascending key
    // stays as written.
    let keys = std::mem::take(&mut spec.order_by);
    for key in keys {
        if !desc(&key) {
            spec.order_by.push(key);
            continue;
        }
        let missing = match key.options.nulls_first {
            Some(true) => Expr::IsNotNull(Box::new(key.expr.clone())),
            _ => Expr::IsNull(Box::new(key.expr.clone())),
        };
        let negated = Expr::BinaryOp {
            left: Box::new(Expr::Value(
                sqlparser::ast::Value::Number("0".into(), false).into(),
            )),
            op: sqlparser::ast::BinaryOperator::Minus,
            right: Box::new(Expr::Nested(Box::new(key.expr))),
        };
        spec.order_by.push(ascending(missing));
        spec.order_by.push(ascending(negated));
    }
}

/// `DATE '2026-05-01'` and `CAST('2026-05-01' AS DATE)` as `DATE('2026-05-01')`: polars casts the first
/// two from text and prints a deprecation warning the user can do nothing about; the function form
/// parses the date without one.
fn date_literal(e: &sqlparser::ast::Expr) -> Option<sqlparser::ast::Expr> {
    use sqlparser::ast::{DataType, Expr, Value};
    let text = match e {
        Expr::TypedString(ts) if ts.data_type == DataType::Date => ts.value.to_string(),
        Expr::Cast {
            expr,
            data_type: DataType::Date,
            ..
        } => match expr.as_ref() {
            Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)) => v.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    let dialect = sqlparser::dialect::GenericDialect;
    sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(&format!("DATE({text})"))
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// SQL that sqlparser cannot read is left as written, for polars to report with its position.
pub(super) fn rewrite(sql: &str, ordered: &[(String, Vec<String>)]) -> String {
    use sqlparser::ast::{visit_expressions_mut, BinaryOperator, CastKind, DataType, Expr};
    use sqlparser::ast::{ExactNumberInfo, VisitMut};
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::{Parser, ParserOptions};
    let lower = sql.to_ascii_lowercase();
    let orders = lower.contains("order");
    if !sql.contains('/') && !orders && !lower.contains("date") {
        return sql.to_string();
    }
    let parsed = Parser::new(&GenericDialect)
        .with_options(ParserOptions {
            trailing_commas: true,
            ..Default::default()
        })
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let Ok(mut statements) = parsed else {
        return sql.to_string();
    };
    let as_double = |e: &mut Box<Expr>| {
        let inner = std::mem::replace(
            e.as_mut(),
            Expr::Wildcard(sqlparser::ast::helpers::attached_token::AttachedToken::empty()),
        );
        **e = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(inner),
            data_type: DataType::Double(ExactNumberInfo::None),
            array: false,
            format: None,
        };
    };
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Divide,
            right,
        } = e
        {
            as_double(left);
            as_double(right);
        }
        if let Some(date) = date_literal(e) {
            *e = date;
        }
        one_direction_window(e);
        std::ops::ControlFlow::<()>::Continue(())
    });
    if orders {
        let _ = statements.visit(&mut NaturalOrder(ordered));
    }
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Replaces `ORDER BY <ordered column>` with `ORDER BY CASE <column> WHEN <label> THEN <rank> … END`.
pub(super) struct NaturalOrder<'a>(&'a [(String, Vec<String>)]);

impl sqlparser::ast::VisitorMut for NaturalOrder<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut sqlparser::ast::Query) -> std::ops::ControlFlow<()> {
        use sqlparser::ast::{Expr, OrderByKind};
        let Some(order) = query.order_by.as_mut() else {
            return std::ops::ControlFlow::Continue(());
        };
        let OrderByKind::Expressions(exprs) = &mut order.kind else {
            return std::ops::ControlFlow::Continue(());
        };
        for item in exprs {
            // Missing values sort last unless the SQL says otherwise: "the top 3 by negative equity"
            // must not be three unvalued accounts (SQL's default puts NULLs first when descending).
            if item.options.nulls_first.is_none() {
                item.options.nulls_first = Some(false);
            }
            let name = match &item.expr {
                Expr::Identifier(id) => Some(id.value.clone()),
                Expr::CompoundIdentifier(ids) => ids.last().map(|id| id.value.clone()),
                _ => None,
            };
            let Some((_, labels)) =
                name.and_then(|n| self.0.iter().find(|(c, _)| c.eq_ignore_ascii_case(&n)))
            else {
                continue;
            };
            let mut case = format!("CASE {} ", item.expr);
            for (rank, label) in labels.iter().enumerate() {
                case.push_str(&format!(
                    "WHEN '{}' THEN {rank} ",
                    label.replace('\'', "''")
                ));
            }
            case.push_str(&format!("ELSE {} END", labels.len()));
            if let Ok(expr) = sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect)
                .try_with_sql(&case)
                .and_then(|mut p| p.parse_expr())
            {
                item.expr = expr;
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Executes SQL, turning polars' errors into ones an analyst can act on.
/// The most operators and nested parentheses a query may hold. Each nests the expression tree one level
/// deeper, and the parser and planner walk it recursively: thousands of `OR` terms overflowed the stack.
pub(super) const MAX_SQL_DEPTH: usize = 1000;

/// Refuses SQL whose expressions could nest deeper than [`MAX_SQL_DEPTH`], counted on its tokens (each
/// binary operator or open parenthesis is at most one level), before anything parses it recursively.
pub(super) fn check_depth(sql: &str) -> Result<(), QueryError> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Ok(()); // the parser reports the error, with its position
    };
    let levels = tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR | Keyword::NOT),
            Token::LParen
            | Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            _ => false,
        })
        .count();
    if levels > MAX_SQL_DEPTH {
        return Err(QueryError::Sql {
            message: format!(
                "the query has {levels} operators and parentheses; at most {MAX_SQL_DEPTH}. Fix: write a \
                 long list of alternatives as `column IN (a, b, ...)`, or split the query"
            ),
        });
    }
    Ok(())
}

/// The SQL line a parser error points at (`at Line: L, Column: C`), with a caret under the column.
pub(super) fn caret(sql: &str, message: &str) -> String {
    let number_after = |key: &str| -> Option<usize> {
        let rest = &message[message.find(key)? + key.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    match (number_after("Line:"), number_after("Column:")) {
        (Some(line), Some(column)) if line >= 1 && column >= 1 => match sql.lines().nth(line - 1) {
            Some(text) => format!("\n  {text}\n  {}^", " ".repeat(column - 1)),
            None => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regression_a_typed_date_literal_printed_a_deprecation_warning() {
        let sql = "SELECT * FROM accounts WHERE value_date < DATE '2026-05-01' \
                   OR value_date > CAST('2027-01-31' AS DATE)";
        assert_eq!(
            super::rewrite(sql, &[]),
            "SELECT * FROM accounts WHERE value_date < DATE('2026-05-01') \
             OR value_date > DATE('2027-01-31')"
        );
    }

    #[test]
    fn a_window_in_mixed_directions_is_written_in_one() {
        let sql = "SELECT ROW_NUMBER() OVER (PARTITION BY state ORDER BY negative_equity DESC, account_id) \
                   AS rn FROM accounts";
        assert_eq!(
            super::rewrite(sql, &[]),
            "SELECT ROW_NUMBER() OVER (PARTITION BY state ORDER BY negative_equity IS NULL ASC, \
             0 - (negative_equity) ASC, account_id) AS rn FROM accounts"
        );
    }

    #[test]
    fn multiplication_is_told_from_count_star_and_select_star() {
        assert!(super::multiplies(
            "SELECT SUM(balance * balance) FROM accounts"
        ));
        assert!(!super::multiplies("SELECT COUNT(*), * FROM accounts"));
        assert!(!super::multiplies(
            "SELECT SUM(balance) / COUNT(*) FROM accounts"
        ));
        assert!(super::multiplies("SELECT balance*2 FROM accounts WHERE"));
    }

    use super::*;

    fn bands() -> Vec<(String, Vec<String>)> {
        vec![(
            "ltv_bucket".to_string(),
            ["<=80", "80-100", ">140"].map(String::from).to_vec(),
        )]
    }

    #[test]
    fn a_division_is_rewritten_as_one_of_floats() {
        let sql = rewrite("SELECT balance / value AS r FROM accounts", &bands());
        assert_eq!(
            sql,
            "SELECT CAST(balance AS DOUBLE) / CAST(value AS DOUBLE) AS r FROM accounts"
        );
    }

    #[test]
    fn an_ordered_label_sorts_in_its_natural_order_with_missing_values_last() {
        let sql = rewrite("SELECT * FROM accounts ORDER BY ltv_bucket DESC", &bands());
        assert_eq!(
            sql,
            "SELECT * FROM accounts ORDER BY CASE ltv_bucket WHEN '<=80' THEN 0 WHEN '80-100' THEN 1 \
             WHEN '>140' THEN 2 ELSE 3 END DESC NULLS LAST"
        );
        // (A label the list does not know sorts after every one it knows.)
        // Other columns keep their order, and NULLs go last unless the SQL says otherwise.
        let sql = rewrite("SELECT * FROM accounts ORDER BY balance DESC", &bands());
        assert_eq!(
            sql,
            "SELECT * FROM accounts ORDER BY balance DESC NULLS LAST"
        );
        let sql = rewrite(
            "SELECT * FROM accounts ORDER BY balance NULLS FIRST",
            &bands(),
        );
        assert_eq!(sql, "SELECT * FROM accounts ORDER BY balance NULLS FIRST");
    }

    #[test]
    fn sql_that_does_not_parse_is_left_for_polars_to_explain() {
        assert_eq!(rewrite("SELEC nonsense", &bands()), "SELEC nonsense");
    }

    #[test]
    fn the_depth_bound_counts_operators_and_parentheses() {
        let at = format!("SELECT {}", vec!["1"; MAX_SQL_DEPTH + 1].join("+"));
        assert!(check_depth(&at).is_ok(), "{MAX_SQL_DEPTH} operators");
        let past = format!("SELECT {}", vec!["1"; MAX_SQL_DEPTH + 2].join("+"));
        assert!(check_depth(&past).is_err());
        let nested = format!("SELECT {}1{}", "(".repeat(1001), ")".repeat(1001));
        assert!(check_depth(&nested).is_err());
    }
}
