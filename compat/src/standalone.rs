//! The system under test: one `ferromq standalone` process per test.
//!
//! Contract coded against (see the task brief):
//! `$FERROMQ_BIN standalone --data-dir <DIR> --namesrv-port <P> --broker-port <Q> [-c <broker.conf>]`
//! starts a name server on 127.0.0.1:P and a broker on 127.0.0.1:Q (VIP port Q-2); when ready it
//! prints one stdout line starting with [`READY_PREFIX`]; SIGTERM is a graceful shutdown (exit 0),
//! SIGKILL a crash.
//!
//! Components:
//! - [`Ports`]: a name-server port and a broker port whose VIP and HA (Q+1) neighbours were
//!   free when chosen;
//! - [`StandaloneOptions`]: binary, ports, optional broker.conf, ready timeout;
//! - [`Standalone`]: the process guard. Its work directory holds `data/`, `broker.conf` and one
//!   `launch-<n>.stdout` / `launch-<n>.stderr` pair per launch.
//!
//! Invariants: at most one child per guard; a child is always reaped (SIGKILL on drop); stdout is
//! drained by a thread for the child's whole life so a chatty process never blocks on a full pipe.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

/// Environment variable naming the `ferromq` binary under test.
pub const BIN_ENV: &str = "FERROMQ_BIN";
/// Environment variable overriding where work directories are created.
pub const WORK_DIR_ENV: &str = "COMPAT_WORK_DIR";
/// The ready line printed by the standalone process starts with this.
pub const READY_PREFIX: &str = "FerroMQ standalone ready";
/// Default bound on the wait for the ready line.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the wait for exit after SIGTERM.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Fresh-port attempts when the first launch finds a port taken.
const PORT_RETRIES: usize = 3;
/// How the OS error for a taken port reads in the process's stderr.
const ADDR_IN_USE: &str = "Address already in use";
/// Lines of each log printed when a test fails.
const LOG_TAIL_LINES: usize = 40;

static WORK_DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// Reads [`BIN_ENV`], failing with a message that says how to set it.
pub fn bin_from_env() -> Result<PathBuf> {
    let value = std::env::var_os(BIN_ENV).ok_or_else(|| {
        anyhow!(
            "{BIN_ENV} is not set: point it at the ferromq binary, e.g. \
             {BIN_ENV}=$HOME/.cache/ferromq/target/release/ferromq (scripts/compat.sh does this)"
        )
    })?;
    let path = PathBuf::from(value);
    if !path.is_file() {
        bail!("{BIN_ENV}={} does not name an existing file", path.display());
    }
    Ok(path)
}

/// Ports for one standalone process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub namesrv: u16,
    pub broker: u16,
}

impl Ports {
    /// Picks ports the OS reports free: binds 127.0.0.1:0, reads the port, releases it.
    ///
    /// The broker port is chosen so that its VIP port and HA port (Q+1) were free as well.
    /// Another process may still take a port between this call and the spawn; that race is
    /// accepted (the spawn then fails loudly, it does not pass silently).
    pub fn pick() -> Result<Self> {
        let namesrv = TcpListener::bind("127.0.0.1:0").context("bind a name-server port")?;
        let namesrv_port = namesrv.local_addr()?.port();
        for _ in 0..64 {
            let broker = TcpListener::bind("127.0.0.1:0").context("bind a broker port")?;
            let port = broker.local_addr()?.port();
            let (Some(vip), Some(ha)) = (port.checked_sub(2), port.checked_add(1)) else {
                continue;
            };
            if [vip, ha].contains(&namesrv_port) || vip < 1024 {
                continue;
            }
            let neighbours = (
                TcpListener::bind(("127.0.0.1", vip)),
                TcpListener::bind(("127.0.0.1", ha)),
            );
            if let (Ok(_), Ok(_)) = neighbours {
                return Ok(Self {
                    namesrv: namesrv_port,
                    broker: port,
                });
            }
        }
        bail!("no broker port with free VIP (Q-2) and HA (Q+1) neighbours after 64 tries")
    }

    /// The name-server address clients use.
    pub fn namesrv_addr(&self) -> String {
        format!("127.0.0.1:{}", self.namesrv)
    }
}

/// The broker.conf every [`StandaloneOptions::from_env`] launch starts with: the suite tests the
/// client protocol, not the host's disk, so the disk-full guard (default 0.90, which refuses puts
/// with SERVICE_NOT_AVAILABLE) is raised to its maximum; a CI machine at 90 % would otherwise fail
/// every send.
pub const HARNESS_BROKER_CONF: &str = "diskSpaceWarningLevelRatio=0.99\n";

/// How to launch a standalone process.
#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    /// The binary; `standalone` is passed as its first argument.
    pub bin: PathBuf,
    /// A short name for the work directory (usually the test name).
    pub name: String,
    pub ports: Ports,
    /// Contents of a broker.conf passed with `-c`, if any.
    pub broker_conf: Option<String>,
    pub ready_timeout: Duration,
}

impl StandaloneOptions {
    /// Options for the binary in [`BIN_ENV`] on fresh free ports.
    pub fn from_env(name: &str) -> Result<Self> {
        Ok(Self {
            bin: bin_from_env()?,
            name: name.to_string(),
            ports: Ports::pick()?,
            broker_conf: Some(HARNESS_BROKER_CONF.to_string()),
            ready_timeout: DEFAULT_READY_TIMEOUT,
        })
    }

    /// Appends RocketMQ `key=value` lines to the broker.conf passed with `-c`.
    pub fn with_broker_conf(mut self, conf: &str) -> Self {
        self.broker_conf.get_or_insert_with(String::new).push_str(conf);
        self
    }
}

/// Guard for a running (or stopped) standalone process and its work directory.
pub struct Standalone {
    options: StandaloneOptions,
    work_dir: PathBuf,
    child: Option<Child>,
    stdout_thread: Option<JoinHandle<()>>,
    launches: usize,
}

impl Standalone {
    /// Creates a fresh work directory and launches the process; returns once it printed its ready
    /// line.
    pub fn start(options: StandaloneOptions) -> Result<Self> {
        let work_dir = fresh_work_dir(&options.name)?;
        fs::create_dir_all(work_dir.join("data"))?;
        if let Some(conf) = &options.broker_conf {
            fs::write(work_dir.join("broker.conf"), conf)?;
        }
        let mut guard = Self {
            options,
            work_dir,
            child: None,
            stdout_thread: None,
            launches: 0,
        };
        let mut retries = 0;
        loop {
            match guard.launch() {
                Ok(()) => return Ok(guard),
                // A port picked free was taken before the spawn bound it (typically by an
                // outgoing connection's ephemeral port): pick again. Restarts keep their ports.
                Err(e) if retries < PORT_RETRIES && format!("{e:#}").contains(ADDR_IN_USE) => {
                    retries += 1;
                    let old = guard.options.ports;
                    guard.options.ports = Ports::pick()?;
                    eprintln!(
                        "compat: a port of {old:?} was taken; retrying on {:?}",
                        guard.options.ports
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Launches again on the same ports and data directory after a stop or a kill.
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("restart while launch {} is still running", self.launches);
        }
        self.launch()
    }

    pub fn ports(&self) -> Ports {
        self.options.ports
    }

    pub fn namesrv_addr(&self) -> String {
        self.options.ports.namesrv_addr()
    }

    pub fn broker_addr(&self) -> String {
        format!("127.0.0.1:{}", self.options.ports.broker)
    }

    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; returns the exit status.
    ///
    /// If the process is still running at the deadline it is SIGKILLed and an error is returned.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let pid = self.running_pid()?;
        signal(pid, libc::SIGTERM)?;
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().ok_or_else(|| anyhow!("no child"))?;
            if let Some(status) = child.try_wait()? {
                self.reap_stdout();
                self.child = None;
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait()?;
                self.reap_stdout();
                self.child = None;
                bail!(
                    "standalone (pid {pid}) did not exit within {timeout:?} of SIGTERM; SIGKILLed, {status}\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGKILL (a crash) and reaps the process.
    pub fn kill9(&mut self) -> Result<ExitStatus> {
        let pid = self.running_pid()?;
        signal(pid, libc::SIGKILL)?;
        let status = self.child.as_mut().ok_or_else(|| anyhow!("no child"))?.wait()?;
        self.reap_stdout();
        self.child = None;
        Ok(status)
    }

    /// The last lines of the current launch's stdout and stderr, for error messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for stream in ["stdout", "stderr"] {
            let path = self.log_path(self.launches, stream);
            let text = fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(LOG_TAIL_LINES);
            out.push_str(&format!(
                "--- {} (last {} lines) ---\n",
                path.display(),
                lines.len() - from
            ));
            for line in &lines[from..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn running_pid(&mut self) -> Result<i32> {
        let child = self
            .child
            .as_mut()
            .ok_or_else(|| anyhow!("standalone is not running"))?;
        if let Some(status) = child.try_wait()? {
            self.child = None;
            bail!("standalone exited unexpectedly: {status}\n{}", self.log_tail());
        }
        i32::try_from(child.id()).context("pid out of range")
    }

    fn log_path(&self, launch: usize, stream: &str) -> PathBuf {
        self.work_dir.join(format!("launch-{launch}.{stream}"))
    }

    fn launch(&mut self) -> Result<()> {
        self.launches += 1;
        let ports = self.options.ports;
        let mut command = Command::new(&self.options.bin);
        command
            .arg("standalone")
            .arg("--data-dir")
            .arg(self.work_dir.join("data"))
            .arg("--namesrv-port")
            .arg(ports.namesrv.to_string())
            .arg("--broker-port")
            .arg(ports.broker.to_string());
        if self.options.broker_conf.is_some() {
            command.arg("-c").arg(self.work_dir.join("broker.conf"));
        }
        let stderr = File::create(self.log_path(self.launches, "stderr"))?;
        // FERROMQ_* variables are ferromq configuration; the harness's own is not.
        command.env_remove(BIN_ENV);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawn {}", self.options.bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("child stdout not piped"))?;
        let stdout_log = File::create(self.log_path(self.launches, "stdout"))?;
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        self.stdout_thread = Some(std::thread::spawn(move || drain_stdout(stdout, stdout_log, ready_tx)));
        self.child = Some(child);

        match ready_rx.recv_timeout(self.options.ready_timeout) {
            Ok(_line) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.kill9();
                bail!(
                    "standalone launch {} printed no line starting with {READY_PREFIX:?} within {:?}\n{}",
                    self.launches,
                    self.options.ready_timeout,
                    self.log_tail()
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout closed before the ready line: the process exited (or closed stdout).
                let status = match self.child.as_mut() {
                    Some(child) => wait_with_timeout(child, Duration::from_secs(5))?,
                    None => None,
                };
                if status.is_none() {
                    let _ = self.kill9();
                }
                self.reap_stdout();
                self.child = None;
                bail!(
                    "standalone launch {} closed stdout before printing {READY_PREFIX:?} (exit: {})\n{}",
                    self.launches,
                    status.map_or_else(|| "still running, killed".to_string(), |s| s.to_string()),
                    self.log_tail()
                )
            }
        }
    }

    fn reap_stdout(&mut self) {
        if let Some(thread) = self.stdout_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
        self.reap_stdout();
        if std::thread::panicking() {
            eprintln!(
                "compat: test failed; keeping work directory {}\n{}",
                self.work_dir.display(),
                self.log_tail()
            );
        } else {
            let _ = fs::remove_dir_all(&self.work_dir);
        }
    }
}

fn drain_stdout(stdout: std::process::ChildStdout, mut log: File, ready_tx: mpsc::Sender<String>) {
    let mut ready_tx = Some(ready_tx);
    let reader = BufReader::new(stdout);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if line.starts_with(READY_PREFIX) {
            if let Some(tx) = ready_tx.take() {
                let _ = tx.send(line);
            }
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: i32, sig: libc::c_int) -> Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own unreaped child, so the
    // pid cannot have been recycled for another process.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("kill({pid}, {sig})"));
    }
    Ok(())
}

fn fresh_work_dir(name: &str) -> Result<PathBuf> {
    let base = std::env::var_os(WORK_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ferromq-compat"));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = WORK_DIR_SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("{name}-{}-{nanos}-{seq}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("create work dir {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
#[path = "standalone_test.rs"]
mod tests;
