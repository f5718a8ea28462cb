//! The `relais` commands as a user runs them: bad input gets one clear line on stderr,
//! exit code 2, and leaves the store exactly as it was (compared as a dump of every
//! table before and after).

mod sim_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sim_support::relais_binary;

fn dir(test: &str) -> PathBuf {
    let d = sim_support::scratch(test);
    std::fs::write(
        d.join("relais.toml"),
        "[[brand]]\nname = \"Acme\"\n[[brand]]\nname = \"Other\"\n",
    )
    .unwrap();
    d
}

fn relais(dir: &Path, args: &[&str]) -> Output {
    Command::new(relais_binary())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run relais")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = relais(dir, args);
    assert!(
        out.status.success(),
        "relais {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = relais(dir, args);
    assert_eq!(out.status.code(), Some(2), "relais {args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("relais "), "{err}");
    err
}

/// Every row of every table, as text.
fn dump(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut st = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.push_str(&format!("[{t}]\n"));
        for row in rows {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    out
}

#[test]
fn bad_input_is_explained_and_changes_nothing() {
    let d = dir("host_cli_bad_input");
    std::fs::write(
        d.join("good.csv"),
        "number,first_name\n+33612345678,Léa\n+33612345679,Tom\n",
    )
    .unwrap();
    ok(
        &d,
        &[
            "campaign",
            "import",
            "good.csv",
            "--name",
            "first",
            "--brand",
            "Acme",
            "--template",
            "Bonjour {first_name}",
        ],
    );
    ok(&d, &["optout", "add", "+33612345679", "--brand", "Acme"]);
    let db = d.join("relais.db");
    let before = dump(&db);

    std::fs::write(
        d.join("bad.csv"),
        "number,first_name\n0612345678,Léa\nnot a number,Tom\n,\n",
    )
    .unwrap();
    std::fs::write(
        d.join("nonumber.csv"),
        "phone_number,name\n+33612345678,Léa\n",
    )
    .unwrap();
    std::fs::write(
        d.join("long.csv"),
        format!("number,first_name\n+33612345670,{}\n", "é".repeat(400)),
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "campaign",
                "import",
                "bad.csv",
                "--name",
                "b",
                "--brand",
                "Acme",
                "--template",
                "Hi {first_name}",
            ],
            "no row could be imported",
        ),
        (
            &[
                "campaign",
                "import",
                "nonumber.csv",
                "--name",
                "b",
                "--brand",
                "Acme",
                "--template",
                "Hi",
            ],
            "no `number` column",
        ),
        (
            &[
                "campaign",
                "import",
                "long.csv",
                "--name",
                "b",
                "--brand",
                "Acme",
                "--template",
                "Hi {first_name}",
            ],
            "bytes",
        ),
        (
            &[
                "campaign",
                "import",
                "good.csv",
                "--name",
                "b",
                "--brand",
                "Nobody",
                "--template",
                "Hi",
            ],
            "unknown brand",
        ),
        (
            &[
                "campaign",
                "import",
                "good.csv",
                "--name",
                "first",
                "--brand",
                "Acme",
                "--template",
                "Hi",
            ],
            "already exists",
        ),
        (
            &[
                "campaign",
                "import",
                "good.csv",
                "--name",
                "b",
                "--brand",
                "Acme",
                "--template",
                "Hi {first_name",
            ],
            "never closed",
        ),
        (
            &[
                "campaign",
                "import",
                "missing.csv",
                "--name",
                "b",
                "--brand",
                "Acme",
                "--template",
                "Hi",
            ],
            "cannot read",
        ),
        (
            &[
                "campaign",
                "import",
                "good.csv",
                "--name",
                "b",
                "--template",
                "Hi",
            ],
            "--brand is required",
        ),
        (
            &[
                "send",
                "--to",
                "0612345678",
                "--text",
                "hi",
                "--brand",
                "Acme",
            ],
            "--to",
        ),
        (
            &[
                "send",
                "--to",
                "+33612345678",
                "--text",
                "",
                "--brand",
                "Acme",
            ],
            "empty",
        ),
        (
            &[
                "send",
                "--to",
                "+33612345678",
                "--text",
                &"x".repeat(641),
                "--brand",
                "Acme",
            ],
            "bytes",
        ),
        (
            &[
                "send",
                "--to",
                "+33612345678",
                "--text",
                "hi",
                "--brand",
                "Acme",
                "--class",
                "spam",
            ],
            "class",
        ),
        (
            &[
                "send",
                "--to",
                "+33612345678",
                "--text",
                "hi",
                "--brand",
                "Acme",
                "--at",
                "tomorrow",
            ],
            "not a time",
        ),
        (&["optout", "add", "12", "--brand", "Acme"], "12"),
        (
            &["optout", "remove", "+33612345670", "--brand", "Acme"],
            "had no opt-out",
        ),
        (
            &[
                "consent",
                "set",
                "+33612345678",
                "perhaps",
                "--brand",
                "Acme",
                "--source",
                "x",
            ],
            "must be",
        ),
        (&["campaign", "start", "nothing"], "no campaign named"),
    ];
    for (args, needle) in cases {
        let err = fails(&d, args);
        assert!(
            err.contains(needle),
            "relais {args:?}: expected {needle:?} in {err:?}"
        );
        assert_eq!(dump(&db), before, "relais {args:?} changed the store");
    }
    // The partial file: the good row goes in, the bad ones are listed.
    std::fs::write(
        d.join("mixed.csv"),
        "number,first_name\n+33612345680,Zoé\n0612,Bad\n",
    )
    .unwrap();
    let out = ok(
        &d,
        &[
            "campaign",
            "import",
            "mixed.csv",
            "--name",
            "m",
            "--brand",
            "Acme",
            "--template",
            "Hi {first_name}",
        ],
    );
    assert!(out.contains("1 imported"), "{out}");
    assert!(out.contains("line 3"), "{out}");
    assert!(out.contains("national form"), "{out}");
}

#[test]
fn a_corrupt_or_locked_database_is_refused_and_left_alone() {
    let d = dir("host_cli_bad_db");
    let junk = b"SQLite format 2\0 but not really; a file someone overwrote".repeat(64);
    std::fs::write(d.join("broken.db"), &junk).unwrap();
    let err = fails(&d, &["status", "--db", "broken.db"]);
    assert!(err.contains("not a usable relais database"), "{err}");
    assert_eq!(std::fs::read(d.join("broken.db")).unwrap(), junk);

    ok(&d, &["optout", "add", "+33612345678", "--brand", "Acme"]);
    let db = d.join("relais.db");
    let before = dump(&db);
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = fails(&d, &["optout", "add", "+33612345679", "--brand", "Acme"]);
    assert!(err.contains("locked by another process"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(dump(&db), before);
}

#[test]
fn help_teaches_with_examples() {
    let d = dir("host_cli_help");
    for cmd in [
        &["send", "--help"][..],
        &["campaign", "import", "--help"],
        &["run", "--help"],
    ] {
        let out = ok(&d, cmd);
        assert!(
            out.contains("Example"),
            "relais {cmd:?} --help has no example:\n{out}"
        );
    }
    let example = ok(&d, &["config", "example"]);
    std::fs::write(d.join("example.toml"), &example).unwrap();
    let check = ok(&d, &["config", "check", "--config", "example.toml"]);
    assert!(check.contains("device desk"), "{check}");
}

#[test]
fn status_warns_before_a_holiday_table_in_use_runs_out() {
    let d = dir("host_cli_calendar_warning");
    let status = |at: &str| ok(&d, &["status", "--at", at]);
    std::fs::write(d.join("fr.csv"), "number\n+33612345678\n").unwrap();
    ok(&d, &["contacts", "import", "fr.csv", "--brand", "Acme"]);
    // French recipients only: their calendars are computed and never run out.
    assert!(!status("2026-12-07T10:00:00Z").contains("warning:"));

    // A job to a Kenyan number puts the Kenyan table in use. It covers up to
    // 2026-12-31: the warning starts 90 days before, on 2026-10-02.
    ok(
        &d,
        &[
            "send",
            "--to",
            "+254712345678",
            "--text",
            "Your parcel is on its way",
            "--brand",
            "Acme",
        ],
    );
    let out = status("2026-10-01T12:00:00Z");
    assert!(!out.contains("warning:"), "{out}");
    let out = status("2026-10-02T12:00:00Z");
    let line = out
        .lines()
        .find(|l| l.starts_with("warning: Kenya (KE)"))
        .unwrap_or_else(|| panic!("no Kenya warning:\n{out}"));
    assert!(line.contains("ends on 2026-12-31 (in 90 days)"), "{line}");
    assert!(line.contains("Eid al-Fitr, Eid al-Adha"), "{line}");
    assert!(!out.contains("Nigeria"), "{out}");

    // A Nigerian contact: that table ran out after Eid al-Fitr 2026.
    std::fs::write(d.join("ng.csv"), "number\n+2348031234567\n").unwrap();
    ok(&d, &["contacts", "import", "ng.csv", "--brand", "Acme"]);
    let out = status("2026-12-07T10:00:00Z");
    assert!(
        out.contains("warning: Nigeria (NG)") && out.contains("ran out on 2026-03-20"),
        "{out}"
    );
    assert!(out.contains("ends on 2026-12-31 (in 24 days)"), "{out}");
    let err = fails(&d, &["status", "--at", "tomorrow"]);
    assert!(err.contains("--at"), "{err}");
}
