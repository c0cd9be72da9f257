//! Property tests for the pin-file editors: on generated pipeline files and lockfiles (random
//! comments, spacing, key orders, quoting, line endings, BOMs, extra entries and decoys), an edit
//! changes nothing but the pinned value, reads back, is idempotent and can be undone byte for
//! byte; arbitrary or mangled input never panics.

use proptest::prelude::*;
use upkeep::forge::pin::{Pin, PinFormat, PinTarget, read_pin, write_pin};

const UP: &str = "https://github.com/GLips/Figma-Context-MCP.git";

fn target() -> PinTarget<'static> {
    PinTarget {
        upstream: UP,
        entry: None,
    }
}

/// 256 cases by default (`PROPTEST_CASES` overrides); regressions become unit-test cases in
/// the pin module instead of files next to this test.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn hex40() -> impl Strategy<Value = String> {
    "[0-9a-f]{40}"
}

/// Refs every quoting style can hold as they are.
fn safe_ref() -> impl Strategy<Value = String> {
    prop_oneof![
        "refs/tags/v[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-rc[0-9])?",
        "refs/heads/[a-z][a-z0-9/_.-]{0,12}",
    ]
}

/// Any printable value without surrounding spaces (quotes, `#`, `: ` and friends included).
fn any_ref() -> impl Strategy<Value = String> {
    prop_oneof![
        safe_ref(),
        "[!-~][ -~]{0,18}[!-~]",
        "[a-zé'\"#: -]{1,10}".prop_filter("no surrounding spaces", |s| s.trim() == s),
    ]
}

fn pin_strategy(refs: BoxedStrategy<String>) -> impl Strategy<Value = Pin> {
    (refs, proptest::option::of(hex40())).prop_map(|(git_ref, commit)| Pin { git_ref, commit })
}

fn comment() -> impl Strategy<Value = String> {
    "[a-z '\"#:|>&*-]{0,14}"
}

fn ws() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_owned()),
        Just("  ".to_owned()),
        Just("\t".to_owned()),
        Just("   ".to_owned())
    ]
}

/// How the commit comment on the ref line looks before the edit. Every form is one the editor
/// itself would produce from some other form, so an edit and its reverse restore it exactly.
#[derive(Debug, Clone)]
enum RefTail {
    Bare,
    Other(String, String),
    Marker(String),
    MarkerAndOther(String, String, String),
}

fn ref_tail() -> impl Strategy<Value = RefTail> {
    prop_oneof![
        Just(RefTail::Bare),
        (ws(), comment()).prop_map(|(g, c)| RefTail::Other(g, c)),
        hex40().prop_map(RefTail::Marker),
        (ws(), hex40(), comment()).prop_map(|(g, h, c)| RefTail::MarkerAndOther(g, h, c)),
    ]
}

#[derive(Debug, Clone)]
struct YamlEntry {
    order: Vec<usize>,
    comments: Vec<Option<String>>,
    blank_before: Vec<bool>,
    ref_style: u8,
    ref_value: String,
    tail: RefTail,
    trigger: bool,
}

fn yaml_entry() -> impl Strategy<Value = YamlEntry> {
    (
        Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        proptest::collection::vec(proptest::option::of(comment()), 5),
        proptest::collection::vec(any::<bool>(), 5),
        0u8..3,
        safe_ref(),
        ref_tail(),
        any::<bool>(),
    )
        .prop_map(
            |(order, comments, blank_before, ref_style, ref_value, tail, trigger)| YamlEntry {
                order,
                comments,
                blank_before,
                ref_style,
                ref_value,
                tail,
                trigger,
            },
        )
}

#[derive(Debug, Clone)]
struct YamlFile {
    eol: &'static str,
    bom: bool,
    trailing_newline: bool,
    doc_start: bool,
    header: Vec<String>,
    unit: usize,
    compact: bool,
    dash_gap: usize,
    dash_alone: bool,
    entries: Vec<YamlEntry>,
    target_at: usize,
    name_form: u8,
    decoys: bool,
}

fn yaml_file() -> impl Strategy<Value = YamlFile> {
    (
        (
            prop_oneof![Just("\n"), Just("\r\n")],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        proptest::collection::vec(comment(), 0..3),
        (
            prop_oneof![Just(2usize), Just(4)],
            any::<bool>(),
            1usize..4,
            any::<bool>(),
        ),
        proptest::collection::vec(yaml_entry(), 1..4),
        any::<usize>(),
        0u8..4,
        any::<bool>(),
    )
        .prop_map(
            |(
                (eol, bom, trailing_newline, doc_start),
                header,
                (unit, compact, dash_gap, dash_alone),
                entries,
                target_at,
                name_form,
                decoys,
            )| {
                let target_at = target_at % entries.len();
                YamlFile {
                    eol,
                    bom,
                    trailing_newline,
                    doc_start,
                    header,
                    unit,
                    compact,
                    dash_gap,
                    dash_alone,
                    entries,
                    target_at,
                    name_form,
                    decoys,
                }
            },
        )
}

fn quote(value: &str, style: u8) -> String {
    match style {
        0 => value.to_owned(),
        1 => format!("'{value}'"),
        _ => format!("\"{value}\""),
    }
}

fn tail_text(tail: &RefTail) -> String {
    match tail {
        RefTail::Bare => String::new(),
        RefTail::Other(gap, c) => format!("{gap}#{c}"),
        RefTail::Marker(h) => format!("  # upkeep:commit={h}"),
        RefTail::MarkerAndOther(gap, h, c) => format!("{gap}# upkeep:commit={h} #{c}"),
    }
}

/// The file's bytes and the index of the target's `ref:` line.
fn render_yaml(f: &YamlFile) -> (Vec<u8>, usize) {
    let mut lines: Vec<String> = Vec::new();
    let mut ref_line = 0;
    if f.doc_start {
        lines.push("---".into());
    }
    for c in &f.header {
        lines.push(format!("#{c}"));
    }
    let u = " ".repeat(f.unit);
    lines.push("trigger:".into());
    lines.push("- main".into());
    if f.decoys {
        lines.push("variables:".into());
        lines.push(format!("{u}script: |"));
        lines.push(format!("{u}{u}resources:"));
        lines.push(format!("{u}{u}  repositories:"));
        lines.push(format!("{u}{u}  - repository: up"));
        lines.push(format!("{u}{u}    name: GLips/Figma-Context-MCP"));
        lines.push(format!("{u}{u}    ref: refs/tags/decoy"));
        lines.push(format!("{u}note: \"a quoted"));
        lines.push("  ref: refs/tags/decoy\"".into());
    }
    lines.push("resources:".into());
    if f.decoys {
        lines.push(format!("{u}containers: [one,"));
        lines.push(format!("{u}{u}two]"));
    }
    lines.push(format!("{u}repositories:"));
    let dash_col = if f.compact { f.unit } else { 2 * f.unit };
    let key_col = if f.dash_alone {
        dash_col + f.unit
    } else {
        dash_col + 1 + f.dash_gap
    };
    for (i, e) in f.entries.iter().enumerate() {
        let is_target = i == f.target_at;
        let alias = if is_target {
            "up".to_owned()
        } else {
            format!("e{i}")
        };
        let name = if is_target {
            match f.name_form {
                0 => "GLips/Figma-Context-MCP".to_owned(),
                1 => "glips/figma-context-mcp".to_owned(),
                2 => "'GLips/Figma-Context-MCP.git'".to_owned(),
                _ => "\"GLIPS/FIGMA-CONTEXT-MCP\"".to_owned(),
            }
        } else {
            format!("other/repo-{i}")
        };
        if f.dash_alone {
            lines.push(format!("{}-", " ".repeat(dash_col)));
        }
        for (n, &k) in e.order.iter().enumerate() {
            let (key, value) = match k {
                0 => ("repository", alias.clone()),
                1 => ("type", "github".to_owned()),
                2 => ("name", name.clone()),
                3 => ("ref", quote(&e.ref_value, e.ref_style)),
                _ => ("endpoint", "github-mirror".to_owned()),
            };
            if e.blank_before[n] && n > 0 {
                lines.push(String::new());
                lines.push(format!("{}# about {key}", " ".repeat(key_col)));
            }
            let lead = if n == 0 && !f.dash_alone {
                format!("{}-{}", " ".repeat(dash_col), " ".repeat(f.dash_gap))
            } else {
                " ".repeat(key_col)
            };
            let tail = if k == 3 {
                if is_target {
                    ref_line = lines.len();
                }
                tail_text(&e.tail)
            } else {
                e.comments[k]
                    .as_ref()
                    .map_or(String::new(), |c| format!("  #{c}"))
            };
            lines.push(format!("{lead}{key}: {value}{tail}"));
        }
        if e.trigger {
            lines.push(format!("{}trigger:", " ".repeat(key_col)));
            lines.push(format!("{}- main", " ".repeat(key_col)));
        }
    }
    lines.push("extends:".into());
    lines.push(format!("{u}template: v2/x.yml@templates"));
    let mut text = lines.join(f.eol);
    if f.trailing_newline {
        text.push_str(f.eol);
    }
    let mut bytes = if f.bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend_from_slice(text.as_bytes());
    (bytes, ref_line)
}

fn split_lines(b: &[u8]) -> Vec<&[u8]> {
    b.split(|&c| c == b'\n').collect()
}

/// Every line but `except` is byte-identical.
fn only_line_differs(before: &[u8], after: &[u8], except: usize) -> Result<(), TestCaseError> {
    let (a, b) = (split_lines(before), split_lines(after));
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if i != except {
            prop_assert_eq!(x, y, "line {} changed", i + 1);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn yaml_edit_touches_only_the_ref_line(f in yaml_file(), pin in pin_strategy(any_ref().boxed())) {
        let (input, ref_line) = render_yaml(&f);
        let out = write_pin(PinFormat::AzurePipelines, &input, &target(), &pin)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&input))))?;
        prop_assert_eq!(read_pin(PinFormat::AzurePipelines, &out, &target()).unwrap(), pin.clone());
        only_line_differs(&input, &out, ref_line)?;
        let again = write_pin(PinFormat::AzurePipelines, &out, &target(), &pin).unwrap();
        prop_assert_eq!(&again, &out, "not idempotent");
    }

    #[test]
    fn yaml_edit_can_be_undone_byte_for_byte(f in yaml_file(), pin in pin_strategy(safe_ref().boxed())) {
        let (input, _) = render_yaml(&f);
        let original = read_pin(PinFormat::AzurePipelines, &input, &target()).unwrap();
        let e = &f.entries[f.target_at];
        prop_assert_eq!(&original.git_ref, &e.ref_value);
        let out = write_pin(PinFormat::AzurePipelines, &input, &target(), &pin).unwrap();
        let back = write_pin(PinFormat::AzurePipelines, &out, &target(), &original).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&back), String::from_utf8_lossy(&input));
    }

    #[test]
    fn mangled_yaml_never_panics(
        f in yaml_file(),
        pin in pin_strategy(safe_ref().boxed()),
        cuts in proptest::collection::vec((any::<usize>(), 0usize..4, proptest::sample::select(b" \t\r\n-:#'\"|>&*[]{}!?x".to_vec())), 1..4),
    ) {
        let (mut bytes, _) = render_yaml(&f);
        for (at, del, ins) in cuts {
            let at = at % (bytes.len() + 1);
            let end = (at + del).min(bytes.len());
            bytes.splice(at..end, [ins]);
        }
        let _ = read_pin(PinFormat::AzurePipelines, &bytes, &target());
        if let Ok(out) = write_pin(PinFormat::AzurePipelines, &bytes, &target(), &pin) {
            // Whatever it accepted, it must read back what it wrote.
            prop_assert_eq!(read_pin(PinFormat::AzurePipelines, &out, &target()).unwrap(), pin);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), pin in pin_strategy(any_ref().boxed())) {
        for format in [PinFormat::AzurePipelines, PinFormat::Lockfile] {
            let _ = read_pin(format, &bytes, &target());
            let _ = write_pin(format, &bytes, &target(), &pin);
        }
    }
}

#[derive(Debug, Clone)]
struct LockFile {
    eol: &'static str,
    bom: bool,
    trailing_newline: bool,
    header: Vec<String>,
    /// 0 upstream, 1 ref, 2 commit, 3 name, 4 version.
    order: Vec<usize>,
    with_upstream: bool,
    commit: Option<String>,
    ref_value: String,
    literal: (bool, bool),
    spacing: Vec<(String, String, String)>,
    comments: Vec<Option<String>>,
    table: bool,
}

fn lock_file() -> impl Strategy<Value = LockFile> {
    let spacing = (
        prop_oneof![
            Just(String::new()),
            Just("  ".to_owned()),
            Just("\t".to_owned())
        ],
        prop_oneof![
            Just("=".to_owned()),
            Just(" = ".to_owned()),
            Just("  =\t".to_owned())
        ],
        prop_oneof![Just(String::new()), Just("  ".to_owned())],
    );
    (
        (
            prop_oneof![Just("\n"), Just("\r\n")],
            any::<bool>(),
            any::<bool>(),
        ),
        proptest::collection::vec(comment(), 0..3),
        Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        (
            any::<bool>(),
            proptest::option::of(hex40()),
            safe_ref(),
            any::<(bool, bool)>(),
        ),
        proptest::collection::vec(spacing, 5),
        proptest::collection::vec(proptest::option::of(comment()), 5),
        any::<bool>(),
    )
        .prop_map(
            |(
                (eol, bom, trailing_newline),
                header,
                order,
                (with_upstream, commit, ref_value, literal),
                spacing,
                comments,
                table,
            )| LockFile {
                eol,
                bom,
                trailing_newline,
                header,
                order,
                with_upstream,
                commit,
                ref_value,
                literal,
                spacing,
                comments,
                table,
            },
        )
}

fn render_lock(f: &LockFile) -> Vec<u8> {
    let mut lines: Vec<String> = f.header.iter().map(|c| format!("#{c}")).collect();
    let q = |v: &str, literal: bool| {
        if literal {
            format!("'{v}'")
        } else {
            format!("\"{v}\"")
        }
    };
    for &k in &f.order {
        let (key, value) = match k {
            0 if f.with_upstream => (
                "upstream",
                q("git@github.com:glips/figma-context-mcp", false),
            ),
            1 => ("ref", q(&f.ref_value, f.literal.0)),
            2 => match &f.commit {
                Some(c) => ("commit", q(c, f.literal.1)),
                None => continue,
            },
            3 => ("name", "\"figma\"".to_owned()),
            4 => ("version", "3".to_owned()),
            _ => continue,
        };
        let (lead, eq, gap) = &f.spacing[k];
        let tail = f.comments[k]
            .as_ref()
            .map_or(String::new(), |c| format!("{gap} #{c}"));
        lines.push(format!("{lead}{key}{eq}{value}{tail}"));
    }
    if f.table {
        lines.push(String::new());
        lines.push("[extra]".into());
        lines.push("ref = 1".into());
        lines.push("commit = 'no'".into());
    }
    let mut text = lines.join(f.eol);
    if f.trailing_newline {
        text.push_str(f.eol);
    }
    let mut bytes = if f.bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// The lines that are not the top-level `ref`/`commit` entries.
fn other_lines(b: &[u8]) -> Vec<String> {
    // The BOM is checked on its own: it stays at the start even when the first line goes.
    let text = String::from_utf8_lossy(b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b));
    let mut in_root = true;
    text.split('\n')
        .filter(|l| {
            let t = l.trim_start_matches([' ', '\t']);
            in_root &= !t.starts_with('[');
            !(in_root && (t.starts_with("ref") || t.starts_with("commit")))
        })
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lockfile_edit_touches_only_ref_and_commit(f in lock_file(), pin in pin_strategy(any_ref().boxed())) {
        let input = render_lock(&f);
        let out = write_pin(PinFormat::Lockfile, &input, &target(), &pin)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&input))))?;
        prop_assert_eq!(read_pin(PinFormat::Lockfile, &out, &target()).unwrap(), pin.clone());
        prop_assert_eq!(other_lines(&input), other_lines(&out));
        prop_assert_eq!(out.starts_with(b"\xEF\xBB\xBF"), f.bom);
        prop_assert_eq!(out.ends_with(b"\n"), f.trailing_newline);
        let again = write_pin(PinFormat::Lockfile, &out, &target(), &pin).unwrap();
        prop_assert_eq!(&again, &out, "not idempotent");
    }

    #[test]
    fn lockfile_edit_can_be_undone_byte_for_byte(f in lock_file(), pin in pin_strategy(safe_ref().boxed())) {
        let input = render_lock(&f);
        let original = read_pin(PinFormat::Lockfile, &input, &target()).unwrap();
        prop_assert_eq!(&original.git_ref, &f.ref_value);
        prop_assert_eq!(&original.commit, &f.commit);
        let out = write_pin(PinFormat::Lockfile, &input, &target(), &pin).unwrap();
        let back = write_pin(PinFormat::Lockfile, &out, &target(), &original).unwrap();
        if original.commit.is_some() && pin.commit.is_none() {
            // A dropped commit line comes back right after `ref`, in our format: same pin,
            // not necessarily the same bytes.
            prop_assert_eq!(read_pin(PinFormat::Lockfile, &back, &target()).unwrap(), original);
        } else {
            prop_assert_eq!(String::from_utf8_lossy(&back), String::from_utf8_lossy(&input));
        }
    }

    #[test]
    fn new_lockfile_reads_back(pin in pin_strategy(any_ref().boxed())) {
        let text = upkeep::forge::pin::new_lockfile(UP, &pin);
        prop_assert_eq!(read_pin(PinFormat::Lockfile, &text, &target()).unwrap(), pin);
    }
}
