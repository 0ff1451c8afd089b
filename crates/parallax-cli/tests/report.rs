//! `parallax search --report FILE.html` (docs/cli.md, "search --report").

use std::process::Command;

fn parallax(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the parallax binary runs")
}

#[test]
fn search_report_writes_a_page_with_plots_and_keeps_stdout() {
    let dir = std::env::temp_dir().join(format!("parallax-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let args = [
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--requests",
        "64",
        "--rate",
        "4",
        "--top",
        "3",
        "--json",
    ];
    let plain = parallax(&args);
    assert!(plain.status.success());
    let mut with = args.to_vec();
    with.extend(["--report", page.to_str().unwrap()]);
    let out = parallax(&with);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The report changes nothing on stdout.
    assert_eq!(out.stdout, plain.stdout);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 5);
    assert!(html.contains("id=\"launch\""));
    // Three plans in the ranked table (plus its header row).
    let ranked = &html[html.find("class=\"ranked\"").unwrap()..];
    let ranked = &ranked[..ranked.find("</table>").unwrap()];
    assert_eq!(ranked.matches("<tr>").count(), 4);

    // A path in a missing folder is an input error that names it (exit 2), before the search
    // (after it, the finished search was lost).
    let bad = dir.join("no-such-dir").join("r.html");
    let mut with = args.to_vec();
    with.extend(["--report", bad.to_str().unwrap()]);
    let out = parallax(&with);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir"));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
