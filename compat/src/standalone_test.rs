//! Tests of the standalone harness itself, against shell scripts standing in for ferromq.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn options(bin: PathBuf, ready_timeout: Duration) -> StandaloneOptions {
    StandaloneOptions {
        bin,
        name: "harness".to_string(),
        ports: Ports::pick().unwrap(),
        broker_conf: None,
        ready_timeout,
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn scratch() -> PathBuf {
    fresh_work_dir("harness-scripts").unwrap()
}

#[test]
fn ready_line_is_awaited_and_sigterm_yields_the_exit_status() {
    // Method: a script logs its arguments, prints noise then the ready line, exits 0 on TERM.
    let dir = scratch();
    let bin = script(
        &dir,
        "ok.sh",
        "echo \"args: $*\"\necho starting\ntrap 'exit 0' TERM\necho 'FerroMQ standalone ready namesrv=x'\n\
         while true; do sleep 0.05; done",
    );
    let opts = options(bin, Duration::from_secs(10)).with_broker_conf("flushDiskType=SYNC_FLUSH\n");
    let ports = opts.ports;
    let mut s = Standalone::start(opts).unwrap();
    let stdout = fs::read_to_string(s.work_dir().join("launch-1.stdout")).unwrap();
    let data = s.work_dir().join("data");
    let conf = s.work_dir().join("broker.conf");
    let expected = format!(
        "args: standalone --data-dir {} --namesrv-port {} --broker-port {} -c {}",
        data.display(),
        ports.namesrv,
        ports.broker,
        conf.display()
    );
    assert!(stdout.contains(&expected), "stdout {stdout:?} lacks {expected:?}");
    assert_eq!(fs::read_to_string(conf).unwrap(), "flushDiskType=SYNC_FLUSH\n");
    let status = s.terminate(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "{status}");
    s.restart().unwrap();
    assert!(s.work_dir().join("launch-2.stdout").is_file());
    let status = s.kill9().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_ready_line_fails_within_the_timeout_and_kills_the_process() {
    // Method: a script that never prints the ready line; start must fail near the timeout.
    let dir = scratch();
    let bin = script(
        &dir,
        "silent.sh",
        "echo booting\necho oops >&2\nwhile true; do sleep 0.05; done",
    );
    let begin = Instant::now();
    let err = Standalone::start(options(bin, Duration::from_millis(500)))
        .err()
        .unwrap();
    assert!(begin.elapsed() < Duration::from_secs(5));
    let msg = format!("{err:#}");
    assert!(msg.contains("printed no line"), "{msg}");
    assert!(msg.contains("oops"), "stderr tail missing: {msg}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn early_exit_reports_the_exit_status_and_stderr() {
    // Method: a script that fails at once; start must fail with its status and stderr.
    let dir = scratch();
    let bin = script(&dir, "fail.sh", "echo 'bad flag' >&2\nexit 3");
    let err = Standalone::start(options(bin, Duration::from_secs(10))).err().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("exit status: 3"), "{msg}");
    assert!(msg.contains("bad flag"), "{msg}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dropping_the_guard_kills_the_process_and_removes_the_work_dir() {
    // Method: a script that ignores SIGTERM; after drop its pid must be gone.
    let dir = scratch();
    let bin = script(
        &dir,
        "stubborn.sh",
        "trap '' TERM\necho \"FerroMQ standalone ready pid=$$\"\nwhile true; do sleep 0.05; done",
    );
    let s = Standalone::start(options(bin, Duration::from_secs(10))).unwrap();
    let pid = s.child.as_ref().map(|c| c.id() as i32).unwrap();
    let work = s.work_dir().to_path_buf();
    assert!(alive(pid));
    drop(s);
    assert!(!alive(pid), "pid {pid} survived the guard");
    assert!(!work.exists());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sigterm_timeout_escalates_to_sigkill_and_reports_it() {
    // Method: a script that ignores SIGTERM; terminate must give up at its timeout.
    let dir = scratch();
    let bin = script(
        &dir,
        "stubborn.sh",
        "trap '' TERM\necho 'FerroMQ standalone ready'\nwhile true; do sleep 0.05; done",
    );
    let mut s = Standalone::start(options(bin, Duration::from_secs(10))).unwrap();
    let err = s.terminate(Duration::from_millis(300)).err().unwrap();
    assert!(format!("{err:#}").contains("did not exit"), "{err:#}");
    assert!(s.restart().is_ok());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_taken_port_on_first_launch_is_retried_on_fresh_ports() {
    // Method: a script that fails with EADDRINUSE's text on its first run (marker file absent)
    // and reports ready on the second; start must succeed on new ports.
    let dir = scratch();
    let marker = dir.join("tried");
    let bin = script(
        &dir,
        "busy.sh",
        &format!(
            "if [ ! -e {m} ]; then touch {m}; echo 'cannot listen: Address already in use (os error 98)' >&2; \
             exit 1; fi\necho \"FerroMQ standalone ready $*\"\nwhile true; do sleep 0.05; done",
            m = marker.display()
        ),
    );
    let opts = options(bin, Duration::from_secs(10));
    let first = opts.ports;
    let s = Standalone::start(opts).unwrap();
    assert_ne!(s.ports(), first);
    let stdout = fs::read_to_string(s.work_dir().join("launch-2.stdout")).unwrap();
    assert!(
        stdout.contains(&format!("--namesrv-port {}", s.ports().namesrv)),
        "{stdout}"
    );
    drop(s);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unset_bin_env_names_the_variable() {
    // Method: the error text for a missing or wrong FERROMQ_BIN mentions the variable.
    if std::env::var_os(BIN_ENV).is_none() {
        let msg = format!("{:#}", bin_from_env().err().unwrap());
        assert!(msg.contains(BIN_ENV), "{msg}");
    }
}
