//! Night over night on generated months: every bridge, matrix and previous column recomputed from
//! the two accounts files.

use super::*;

fn money(c: i128) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

fn dpd_class(days: &str) -> &'static str {
    match days.parse::<u32>().unwrap() {
        0 => "current",
        1..=29 => "1-29",
        30..=59 => "30-59",
        60..=89 => "60-89",
        _ => "90+",
    }
}

fn night(s: &Sandbox, out: &str) -> BTreeMap<String, Night> {
    read_csv(&s.path(&format!("{out}/accounts.csv")))
        .into_iter()
        .map(|r| {
            let value = (!r["value"].is_empty()).then(|| cents(&r["value"]));
            let night = Night {
                balance: cents(&r["balance"]),
                value,
                negative_equity: value.map_or(0, |_| cents(&r["negative_equity"])),
                expected_deficiency: cents(&r["expected_deficiency"]),
                band: r["ltv_bucket"].clone(),
                dpd_class: dpd_class(&r["days_past_due"]),
                previous_band: r.get("previous_ltv_bucket").cloned().unwrap_or_default(),
                previous_dpd: r.get("previous_days_past_due").cloned().unwrap_or_default(),
            };
            (r["account_id"].clone(), night)
        })
        .collect()
}

/// `n / d` to 4 places, half to even, as text; empty for `d` = 0.
fn share(n: i128, d: i128) -> String {
    if d == 0 {
        return String::new();
    }
    let (q, r) = (n * 10_000 / d, n * 10_000 % d);
    let q = if 2 * r > d || (2 * r == d && q % 2 == 1) {
        q + 1
    } else {
        q
    };
    format!("{}.{:04}", q / 10_000, q % 10_000)
}

/// A changes matrix rebuilt from the two nights: (previous class, current class) → (accounts, cents),
/// tonight's balance, the previous balance for closed accounts; every pair present.
fn matrix(
    before: &BTreeMap<String, Night>,
    after: &BTreeMap<String, Night>,
    rows: &[&str],
    columns: &[&str],
    class: impl Fn(&Night) -> String,
) -> BTreeMap<(String, String), (i128, i128)> {
    let mut m: BTreeMap<(String, String), (i128, i128)> = rows
        .iter()
        .flat_map(|r| {
            columns
                .iter()
                .map(move |c| ((r.to_string(), c.to_string()), (0, 0)))
        })
        .collect();
    let mut add = |from: String, to: String, balance: i128| {
        let cell = m
            .get_mut(&(from.clone(), to.clone()))
            .unwrap_or_else(|| panic!("{from} {to}"));
        cell.0 += 1;
        cell.1 += balance;
    };
    for (id, a) in after {
        let from = before.get(id).map_or("new".to_string(), &class);
        add(from, class(a), a.balance);
    }
    for b in before
        .iter()
        .filter(|(id, _)| !after.contains_key(*id))
        .map(|(_, b)| b)
    {
        add(class(b), "closed".into(), b.balance);
    }
    m
}

/// Audit item 3: the bridges, both matrices, `share_of_previous` and the `previous_*` columns of a
/// generated month pair, recomputed from the two accounts files by the rules in docs/GUIDE.md.
#[test]
fn night_over_night_of_generated_months_recomputed_from_the_two_accounts_files() {
    let s = Sandbox::new();
    for (book, later) in [("g0", "0"), ("g1", "1")] {
        let gen = ["generate", "--loans", "20000", "--months-later", later];
        assert_ok(&s.run(&[&gen[..], &["--out", book, "-q"]].concat()));
    }
    let run = |book: &str, as_of: &str, out: &str, extra: &[&str]| {
        let (l, v) = (
            format!("{book}/loans.csv"),
            format!("{book}/valuations.csv"),
        );
        let args = [
            "run",
            "--loans",
            &l,
            "--valuations",
            &v,
            "--as-of",
            as_of,
            "--out",
            out,
            "-q",
        ];
        assert_ok(&s.run(&[&args[..], extra].concat()));
    };
    run("g0", "2025-06-30", "r0", &[]);
    run("g1", "2025-07-31", "r1", &["--previous", "r0"]);
    let (before, after) = (night(&s, "r0"), night(&s, "r1"));
    let continuing = after.keys().filter(|id| before.contains_key(*id)).count();
    let (new, closed) = (after.len() - continuing, before.len() - continuing);
    assert!(
        continuing > 15_000 && new > 100 && closed > 100,
        "{continuing} {new} {closed}"
    );

    // The previous_* columns: the account's band and days past due last night, empty for new ones.
    let raw_before = read_csv(&s.path("r0/accounts.csv"));
    let dpd0: BTreeMap<&str, &str> = raw_before
        .iter()
        .map(|r| (r["account_id"].as_str(), r["days_past_due"].as_str()))
        .collect();
    for (id, a) in &after {
        let (band, dpd) = match before.get(id) {
            Some(b) => (b.band.as_str(), dpd0[id.as_str()]),
            None => ("", ""),
        };
        assert_eq!(
            (a.previous_band.as_str(), a.previous_dpd.as_str()),
            (band, dpd),
            "{id}"
        );
    }
    check_matrices(&s, &before, &after);
    check_bridges(&s, &before, &after);
    let j = s.summary("r1");
    let c = &j["changes"];
    let bands: Vec<&str> = j["tables"]["ltv_migration"]["columns_current_ltv_bucket"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    let rank = |band: &str| bands.iter().position(|b| *b == band).unwrap();
    let both = || {
        after
            .iter()
            .filter_map(|(id, a)| before.get(id).map(|b| (b, a)))
    };
    let valued_both = || both().filter(|(b, a)| b.value.is_some() && a.value.is_some());
    let counts = [
        ("continuing_accounts", continuing),
        ("new_accounts", new),
        ("closed_accounts", closed),
        (
            "ltv_band_up",
            valued_both()
                .filter(|(b, a)| rank(&a.band) > rank(&b.band))
                .count(),
        ),
        (
            "ltv_band_down",
            valued_both()
                .filter(|(b, a)| rank(&a.band) < rank(&b.band))
                .count(),
        ),
        (
            "lost_value",
            both()
                .filter(|(b, a)| b.value.is_some() && a.value.is_none())
                .count(),
        ),
        (
            "gained_value",
            both()
                .filter(|(b, a)| b.value.is_none() && a.value.is_some())
                .count(),
        ),
    ];
    for (name, n) in counts {
        assert_eq!(c[name].as_u64(), Some(n as u64), "changes.{name}");
    }
}

fn check_matrices(s: &Sandbox, before: &BTreeMap<String, Night>, after: &BTreeMap<String, Night>) {
    let bands = ["<=80", "80-100", "100-120", "120-140", ">140", "no_value"];
    let classes = ["current", "1-29", "30-59", "60-89", "90+"];
    let with = |list: &[&'static str], extra: &'static str| [list, &[extra]].concat();
    let ltv = matrix(
        before,
        after,
        &with(&bands, "new"),
        &with(&bands, "closed"),
        |n| n.band.clone(),
    );
    let file = read_csv(&s.path("r1/summary_changes_ltv.csv"));
    assert_eq!(file.len(), ltv.len());
    for r in &file {
        let (n, c) = ltv[&(
            r["previous_ltv_bucket"].clone(),
            r["current_ltv_bucket"].clone(),
        )];
        assert_eq!(
            (r["accounts"].clone(), r["balance"].clone()),
            (n.to_string(), money(c)),
            "{r:?}"
        );
    }
    let rows = with(&classes, "new");
    let dq = matrix(before, after, &rows, &with(&classes, "closed"), |n| {
        n.dpd_class.to_string()
    });
    let file = read_csv(&s.path("r1/summary_changes_delinquency.csv"));
    assert_eq!(file.len(), dq.len());
    for r in &file {
        let key = (r["previous"].clone(), r["current"].clone());
        let (n, c) = dq[&key];
        let class_total: i128 = dq
            .iter()
            .filter(|(k, _)| k.0 == key.0)
            .map(|(_, v)| v.0)
            .sum();
        let expected = [n.to_string(), money(c), share(n, class_total)];
        let got = [
            r["accounts"].clone(),
            r["balance"].clone(),
            r["share_of_previous"].clone(),
        ];
        assert_eq!(got, expected, "{key:?}");
    }
}

fn check_bridges(s: &Sandbox, before: &BTreeMap<String, Night>, after: &BTreeMap<String, Night>) {
    let sum =
        |m: &BTreeMap<String, Night>, f: &dyn Fn(&Night) -> i128| m.values().map(f).sum::<i128>();
    let closed = || {
        before
            .iter()
            .filter(|(id, _)| !after.contains_key(*id))
            .map(|(_, b)| b)
    };
    let new = || {
        after
            .iter()
            .filter(|(id, _)| !before.contains_key(*id))
            .map(|(_, a)| a)
    };
    let both = || {
        after
            .iter()
            .filter_map(|(id, a)| before.get(id).map(|b| (b, a)))
    };
    let valued = || both().filter(|(b, a)| b.value.is_some() && a.value.is_some());
    let mid = |b: &Night, a: &Night| (a.balance - b.value.unwrap()).max(0);
    let ne = [
        ("previous", sum(before, &|n| n.negative_equity)),
        ("closed", -closed().map(|b| b.negative_equity).sum::<i128>()),
        ("new", new().map(|a| a.negative_equity).sum()),
        (
            "balance_change",
            valued().map(|(b, a)| mid(b, a) - b.negative_equity).sum(),
        ),
        (
            "value_change",
            valued().map(|(b, a)| a.negative_equity - mid(b, a)).sum(),
        ),
        (
            "valuation_gained_or_lost",
            both()
                .filter(|(b, a)| b.value.is_some() != a.value.is_some())
                .map(|(b, a)| a.negative_equity - b.negative_equity)
                .sum(),
        ),
        ("current", sum(after, &|n| n.negative_equity)),
    ];
    let file = read_csv(&s.path("r1/summary_changes_bridge.csv"));
    let got: Vec<(String, String)> = file
        .iter()
        .map(|r| (r["line"].clone(), r["negative_equity"].clone()))
        .collect();
    let expected: Vec<(String, String)> =
        ne.iter().map(|(l, c)| (l.to_string(), money(*c))).collect();
    assert_eq!(got, expected, "summary_changes_bridge.csv");
    let ed = [
        ("previous", sum(before, &|n| n.expected_deficiency)),
        (
            "closed",
            -closed().map(|b| b.expected_deficiency).sum::<i128>(),
        ),
        ("new", new().map(|a| a.expected_deficiency).sum()),
        (
            "continuing",
            both()
                .map(|(b, a)| a.expected_deficiency - b.expected_deficiency)
                .sum(),
        ),
        ("current", sum(after, &|n| n.expected_deficiency)),
    ];
    let j = s.summary("r1");
    for (bridge, lines) in [
        ("negative_equity_bridge", &ne[..]),
        ("expected_deficiency_bridge", &ed[..]),
    ] {
        for (line, c) in lines {
            assert_eq!(
                j["changes"][bridge][line].as_str(),
                Some(money(*c).as_str()),
                "{bridge} {line}"
            );
        }
    }
}
