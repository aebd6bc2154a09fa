//! What Pipy's `bootload` sample and scripts like it reach for: the shebang form
//! `#!/usr/bin/env -S weir --args`, `pipy.argv`, `os.path`, `os.rename`, the legacy `use`,
//! `logging` and `DNS.resolve`, run by the built `weir` binary.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use weir_tests::*;

#[test]
fn a_script_run_by_its_shebang_gets_its_arguments_and_paths() {
    let dir = TempDir::new();
    let main = dir.0.join("main.js");
    let script = format!(
        "#!/usr/bin/env -S {} --args\n\
         println(pipy.argv.slice(1).join(' '))\n\
         var root = os.path.resolve(pipy.argv[2] || '')\n\
         println(root === os.path.resolve(pipy.argv[2]), os.stat(root).isDirectory())\n\
         println(os.path.join('a/', '/b', '', 'c'), os.path.join(), os.path.resolve('/x', 'y', '../z'))\n\
         println(os.path.normalize('a/./b//c/../d'), os.path.dirname('/p/q/r.js'), os.path.basename('/p/q/r.js', '.js'))\n\
         os.mkdir(os.path.join(root, 'script'))\n\
         os.rename(os.path.join(root, 'script'), os.path.join(root, 'script.bak'))\n\
         println(os.stat(os.path.join(root, 'script.bak')).isDirectory(), os.stat(os.path.join(root, 'script')))\n\
         pipy.exit(0)\n",
        weir_bin().display()
    );
    std::fs::write(&main, script).unwrap();
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).unwrap();
    let work = dir.0.join("work");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new(&main).args(["http://127.0.0.1:1/repo/", work.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("http://127.0.0.1:1/repo/ {}", work.display()).as_str(),
            "true true",
            "a/b/c . /x/z",
            "/a/b/d /p/q r",
            "true null",
        ]
    );
}
