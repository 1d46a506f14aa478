//! How the rule tests break a valid file, and what they expect of the checker's answer.

use serde_json::Value;

/// Sets (or adds) the member or element at `pointer`.
pub fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{parent} is {other}"),
    }
}

/// Asserts exactly one problem, containing every one of `words`.
pub fn fires(problems: Vec<String>, words: &[&str]) {
    assert_eq!(problems.len(), 1, "{problems:#?}");
    for word in words {
        assert!(
            problems[0].contains(word),
            "{:?} lacks {word:?}",
            problems[0]
        );
    }
}
