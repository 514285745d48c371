//! The inputs' column schema: which columns each input must and may have, and the segments computed
//! rather than read. The outputs' names, which the loader and the config also check against, are in
//! [`crate::columns`].

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

/// Segments computed from loan fields rather than read from a column of the same name.
pub const DERIVED_SEGMENTS: [&str; 3] = ["vintage", "credit_tier", "term_band"];

/// Segments reported when the config names none.
pub const DEFAULT_SEGMENTS: [&str; 5] =
    ["vintage", "new_used", "credit_tier", "term_band", "state"];
