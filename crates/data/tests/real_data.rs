//! The loaders on the real shared data (`$NEXTCLICK_DATA`, default `../shared/data`): counts match the
//! folders' READMEs and the skip policy reports a clean input. Skips visibly without the data; fails when
//! `CI=true` and the data is missing.

use nextclick_data::{data_root, load_platform, TimeMode};

fn folder(name: &str) -> Option<std::path::PathBuf> {
    let p = data_root().join(name);
    if p.join("events.csv").is_file() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but the real data is missing at {} (set NEXTCLICK_DATA)",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: real data not found at {} (set NEXTCLICK_DATA)",
        p.display()
    );
    None
}

#[test]
fn platforms_load_with_the_documented_counts() {
    for (name, events, sessions, items, ordinal) in [
        ("amazon-games", 440_264, 50_546, 16_859, true),
        ("amazon-scientific", 59_384, 8_442, 4_385, true),
        ("rees46-oct2019", 17_434, 5_066, 6_493, false),
    ] {
        let Some(dir) = folder(name) else { continue };
        let p = load_platform(&dir, TimeMode::Auto).unwrap();
        assert_eq!(p.items.len(), items, "{name} items");
        assert_eq!(p.sessions.len(), sessions, "{name} sessions");
        assert_eq!(
            p.sessions.iter().map(|s| s.len()).sum::<usize>(),
            events,
            "{name} events"
        );
        assert_eq!(p.ordinal, ordinal, "{name} time");
        p.report.print(name);
        assert_eq!(
            (
                p.report.bad_prices,
                p.report.unknown_item_events,
                p.report.empty_sessions
            ),
            (0, 0, 0),
            "{name}"
        );
        if ordinal {
            assert!(p.sessions.iter().flatten().all(|e| e.gap == 1));
        }
    }
}
