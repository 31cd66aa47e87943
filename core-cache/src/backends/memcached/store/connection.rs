//! One connection to Memcached, in plaintext or over TLS: meta commands
//! written, their replies read in order.

use std::fmt;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::wire::{self, CommandLine, Header, Refusal, Reply};

/// A byte stream to the server: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Where the server is, and how to speak TLS to it if the URL asks for TLS.
pub(super) struct Endpoint {
    /// `host:port`.
    pub(super) address: String,
    pub(super) tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// Why a call on a connection failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// Reading or writing failed (TLS handshake and alerts included).
    Io(std::io::Error),
    /// The server closed the connection.
    Closed,
    /// The server answered with an error line, or with one out of step.
    Refused(Refusal),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(err) => write!(f, "connect: {err}"),
            Failure::Io(err) => write!(f, "{err}"),
            Failure::Closed => f.write_str("the server closed the connection"),
            Failure::Refused(Refusal::Client(detail)) => write!(f, "CLIENT_ERROR {detail}"),
            Failure::Refused(Refusal::Server(detail)) => write!(f, "SERVER_ERROR {detail}"),
            Failure::Refused(Refusal::Unexpected) => f.write_str("a reply out of step"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Connect(err) | Failure::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// One open connection. Commands are queued, sent together by
/// [`flush`](Connection::flush), and their replies read one by one.
pub(super) struct Connection {
    stream: BufReader<Box<dyn Stream>>,
    out: Vec<u8>,
    line: Vec<u8>,
    /// Replies the server still owes. A call dropped half-way (a timeout)
    /// leaves some owed, and the connection must not serve another call.
    owed: usize,
    broken: bool,
}

impl Connection {
    /// Connects to `endpoint`, with the TLS handshake when it has TLS.
    pub(super) async fn open(endpoint: &Endpoint) -> Result<Connection, Failure> {
        let tcp = TcpStream::connect(&endpoint.address)
            .await
            .map_err(Failure::Connect)?;
        // Requests are small and each waits for its reply.
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &endpoint.tls {
            None => Box::new(tcp),
            Some((connector, name)) => Box::new(
                connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(Failure::Io)?,
            ),
        };
        Ok(Connection {
            stream: BufReader::new(stream),
            out: Vec::with_capacity(256),
            line: Vec::with_capacity(64),
            owed: 0,
            broken: false,
        })
    }

    /// Whether the connection can serve the next call: nothing owed, nothing broken.
    pub(super) fn is_reusable(&self) -> bool {
        self.owed == 0 && !self.broken
    }

    /// Queues `command` (and its data block) for the next [`flush`](Connection::flush).
    pub(super) fn queue(&mut self, command: &CommandLine, data: Option<&[u8]>) {
        self.out.extend_from_slice(command.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        if let Some(data) = data {
            self.out.extend_from_slice(data);
            self.out.extend_from_slice(b"\r\n");
        }
        self.owed += 1;
    }

    /// Sends what was queued.
    pub(super) async fn flush(&mut self) -> Result<(), Failure> {
        let stream = self.stream.get_mut();
        let sent = async {
            stream.write_all(&self.out).await?;
            stream.flush().await
        }
        .await;
        self.out.clear();
        sent.map_err(|err| self.broke(Failure::Io(err)))
    }

    /// Reads the reply to the oldest command not answered yet.
    pub(super) async fn reply(&mut self) -> Result<Reply, Failure> {
        self.line.clear();
        let read = self.stream.read_until(b'\n', &mut self.line).await;
        match read {
            Ok(_) if !self.line.ends_with(b"\n") => return Err(self.broke(Failure::Closed)),
            Ok(_) => {}
            Err(err) => return Err(self.broke(Failure::Io(err))),
        }
        let line = self.line.strip_suffix(b"\r\n").unwrap_or(&self.line);
        match wire::header(line) {
            Ok(Header::Reply(reply)) => {
                self.owed -= 1;
                Ok(reply)
            }
            Ok(Header::Value { len, returned }) => {
                let mut data = vec![0; len + 2];
                if let Err(err) = self.stream.read_exact(&mut data).await {
                    return Err(self.broke(Failure::Io(err)));
                }
                if !data.ends_with(b"\r\n") {
                    return Err(self.broke(Failure::Refused(Refusal::Unexpected)));
                }
                data.truncate(len);
                self.owed -= 1;
                Ok(Reply::Value(Bytes::from(data), returned))
            }
            // A server error answers its command (the server skips any data
            // block it did not store); after a client error or a line out of
            // step, what the server reads next is not known.
            Err(refusal @ Refusal::Server(_)) => {
                self.owed -= 1;
                Err(Failure::Refused(refusal))
            }
            Err(refusal) => Err(self.broke(Failure::Refused(refusal))),
        }
    }

    /// Queues and sends `command`, then reads its reply.
    pub(super) async fn call(
        &mut self,
        command: &CommandLine,
        data: Option<&[u8]>,
    ) -> Result<Reply, Failure> {
        self.queue(command, data);
        self.flush().await?;
        self.reply().await
    }

    fn broke(&mut self, failure: Failure) -> Failure {
        self.broken = true;
        failure
    }
}
