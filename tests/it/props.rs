//! Property tests of the config loader: any text, and any small mutation of the example config,
//! gives either a valid config or diagnostics that each name the file and a real place.

use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../config/example.toml");

fn check(text: &str) {
    let path = std::path::Path::new("fuzz.toml");
    match upkeep::config::parse(path, text) {
        Ok(_) => {}
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an invalid config must say why");
            let lines = text.lines().count() + 1;
            for d in &errors.0 {
                assert_eq!(d.file, path);
                assert!(d.line <= lines, "line {} of {lines}: {d}", d.line);
                assert!(!d.message.is_empty());
                assert!(!d.message.contains('\n'), "one line per diagnostic: {d:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_a_config_or_diagnostics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn mutations_of_the_example_get_a_config_or_diagnostics(
        cut in 0usize..EXAMPLE.len(),
        len in 0usize..40,
        insert in "[ -~\\n\"=\\[\\]{}#]{0,20}",
    ) {
        let mut start = cut.min(EXAMPLE.len());
        while !EXAMPLE.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(EXAMPLE.len());
        while !EXAMPLE.is_char_boundary(end) {
            end -= 1;
        }
        let mutated = format!("{}{}{}", &EXAMPLE[..start], insert, &EXAMPLE[end..]);
        check(&mutated);
    }
}
