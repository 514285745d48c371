//! The column schema: which columns each input must and may have, the segments computed rather than
//! read, and the columns accounts.csv writes before the loan's own. One place, so config validation,
//! loading and writing agree on every name.

/// Loans columns a row cannot do without (`vin` only when valuations are matched).
pub const LOAN_REQUIRED: [&str; 6] = [
    "account_id",
    "vin",
    "origination_date",
    "amount_financed",
    "term_months",
    "current_balance",
];
/// Loans columns read when present.
pub const LOAN_OPTIONAL: [&str; 10] = [
    "days_past_due",
    "apr",
    "monthly_payment",
    "credit_score",
    "origination_value",
    "vehicle_year",
    "make",
    "model",
    "new_used",
    "state",
];
/// Valuations columns a row cannot do without.
pub const VALUATION_REQUIRED: [&str; 3] = ["vin", "valuation_date", "value"];

/// Columns of accounts.csv written before the loan's own columns; a loan column with one of these
/// names is carried as `loan_<name>` so no output column name repeats.
pub const ACCOUNT_COLUMNS: [&str; 22] = [
    "account_id",
    "vin",
    "balance",
    "value",
    "value_date",
    "value_age_days",
    "value_source",
    "equity",
    "negative_equity",
    "ltv",
    "ltv_bucket",
    "origination_ltv",
    "origination_ltv_bucket",
    "net_recovery",
    "deficiency_if_default",
    "days_past_due",
    "pd",
    "expected_deficiency",
    "months_to_positive_equity",
    "vintage",
    "credit_tier",
    "term_band",
];

/// Columns accounts.csv adds after [`ACCOUNT_COLUMNS`] in a run with `--previous`: the account's band
/// and days past due in the previous run (empty for a new account). Loan columns never take these names
/// either, with or without `--previous`, so a file's column names do not depend on the flag.
pub const PREVIOUS_COLUMNS: [&str; 2] = ["previous_ltv_bucket", "previous_days_past_due"];

/// Segments computed from loan fields rather than read from a column of the same name.
pub const DERIVED_SEGMENTS: [&str; 3] = ["vintage", "credit_tier", "term_band"];

/// Segments reported when the config names none.
pub const DEFAULT_SEGMENTS: [&str; 5] =
    ["vintage", "new_used", "credit_tier", "term_band", "state"];

/// Names a segment may not take: the LTV tables' own names and every key of a summary row, which share
/// summary.json's `tables` object and each row with the segments (a segment named `balance` would
/// replace every row's money balance). Checked against the row type in a test of summary_json.
pub const RESERVED_SEGMENT_NAMES: [&str; 16] = [
    "ltv_bucket",
    "ltv_migration",
    "accounts",
    "closed_accounts",
    "valued_accounts",
    "balance",
    "value",
    "underwater_accounts",
    "negative_equity",
    "deficiency_if_default",
    "expected_deficiency",
    "share_underwater",
    "avg_ltv",
    "estimated_value_accounts",
    "estimated_underwater_accounts",
    "estimated_value_balance",
];

/// A segment name as the `<part>` of `summary_by_<part>.csv`: anything but ASCII letters, digits, `_` and
/// `-` becomes `_`, so no name can reach outside the output directory.
pub fn segment_file_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
