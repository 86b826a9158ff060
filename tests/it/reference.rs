//! The repository's copy of the shared reference values is the shared one.

#[test]
fn reference_copy_matches_shared() {
    let shared = crate::common::repo_root().join("../shared/reference");
    if !shared.is_dir() {
        return; // a clone outside the data center's layout: the copy is all there is
    }
    let copy = crate::common::repo_root().join("testdata/reference");
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        let ours = std::fs::read(copy.join(name)).unwrap_or_else(|_| panic!("testdata/reference lacks {name:?}"));
        assert_eq!(std::fs::read(&path).unwrap(), ours, "testdata/reference/{name:?} differs from the shared copy");
    }
}
