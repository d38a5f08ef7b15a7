//! Compile-fail tests: every input the macros reject, with the expected
//! spanned message in `tests/ui/*.stderr`. Regenerate with
//! `TRYBUILD=overwrite cargo test -p xcore-tests --test main ui::` and review the diff.

#[test]
fn macro_errors_are_spanned_and_readable() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
