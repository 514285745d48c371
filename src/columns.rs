//! The outputs' names, in one home: the accounts file's columns, the summaries' metric columns, the
//! names a segment may not take and how a segment names its file. Every stage shares them — the loader
//! keeps a loan's own columns off the accounts columns, the config keeps segments off the reserved
//! names, the outputs write them and `query` reads them back — so they sit beneath the stages, where
//! each can read them (an output module could not be read by the loader or the config).

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

/// Columns accounts.csv adds after [`ACCOUNT_COLUMNS`] (and [`PREVIOUS_COLUMNS`]) when the lifetime
/// figures are on (the default; `--no-lifetime` leaves them out). Loan columns never take these names.
pub const LIFETIME_COLUMNS: [&str; 3] = [
    "lifetime_pd",
    "lifetime_expected_deficiency",
    "expected_deficiency_12m",
];

/// The columns every summary table and `query --by` share: the count and the money sums.
pub const SUM_METRICS: [&str; 9] = [
    "accounts",
    "closed_accounts",
    "valued_accounts",
    "balance",
    "value",
    "underwater_accounts",
    "negative_equity",
    "deficiency_if_default",
    "expected_deficiency",
];

/// Names a segment may not take: the LTV tables' own names and every key of a summary row, which share
/// summary.json's `tables` object and each row with the segments (a segment named `balance` would
/// replace every row's money balance). Checked against the row type in a test of summary_json.
pub const RESERVED_SEGMENT_NAMES: [&str; 16] = join3(
    ["ltv_bucket", "ltv_migration"],
    SUM_METRICS,
    [
        "share_underwater",
        "avg_ltv",
        "estimated_value_accounts",
        "estimated_underwater_accounts",
        "estimated_value_balance",
    ],
);

/// Three name lists as one, in order, at compile time (`N` must be their lengths' sum: a wrong length
/// fails the build).
const fn join3<const A: usize, const B: usize, const C: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
    c: [&'static str; C],
) -> [&'static str; N] {
    assert!(A + B + C == N, "join3: N is not the sum of the lengths");
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = match i {
            _ if i < A => a[i],
            _ if i < A + B => b[i - A],
            _ => c[i - A - B],
        };
        i += 1;
    }
    out
}

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
