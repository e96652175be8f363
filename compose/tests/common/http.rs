//! A small HTTP/1.1 client over one kept-alive connection, and a server run as
//! `webgpu-virt serve`: what the serve tests and the load benchmark talk to.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// `webgpu-virt serve` on a free port of the loopback, stopped when dropped. Its stderr is kept.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `serve` (as `command`, which has the binary and its environment) on `component`
    /// and waits until it listens. `Err` is what it said when it would not start.
    pub fn start(mut command: Command, component: &str) -> Result<Self, String> {
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", component])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting webgpu-virt serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = String::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().unwrap();
                return Err(format!("serve exited with {status} before listening:\n{said}"));
            };
            if let Some(urls) = line.strip_prefix("Serving HTTP on http://") {
                break urls.split('/').next().unwrap().parse().expect("the address served");
            }
            said += &line;
            said.push('\n');
        };
        let stderr = Arc::new(Mutex::new(said));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Ok(Self { child, addr, stderr })
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A connection to the server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// `GET path` on a connection of its own.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.client().get(path).unwrap_or_else(|e| panic!("GET {path}: {e}\nserver:\n{}", self.stderr()))
    }

    /// The server's resident memory in bytes (Linux: `/proc/PID/statm`).
    pub fn resident_bytes(&self) -> u64 {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.child.id())).expect("reading statm");
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Whether the server process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One kept-alive HTTP/1.1 connection.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connecting to the server");
        stream.set_nodelay(true).unwrap();
        Self { stream: BufReader::new(stream) }
    }

    /// `GET path`: the status and the body.
    pub fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
        write!(self.stream.get_mut(), "GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n")?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad(format!("not a status line: {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            self.stream.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or_else(|| bad("a response without content-length".into()))?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        Ok((status, String::from_utf8(body).map_err(|e| bad(e.to_string()))?))
    }
}

fn bad(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// What the `service` guest answers to `/squares?n=N`, computed here.
pub fn squares(n: u32) -> String {
    let value = |i: u32| i.wrapping_mul(i).wrapping_add(1);
    let sum: u64 = (0..n).map(|i| u64::from(value(i))).sum();
    format!("n={n} sum={sum} last={}\n", value(n - 1))
}
