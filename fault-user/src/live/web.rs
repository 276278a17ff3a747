//! `--web-config-file`: TLS and basic auth for the HTTP server, in the file format of the
//! Prometheus exporter toolkit, so that a file written for node_exporter works here too.
//! Everything in it is checked at start: an unknown key, a missing file, a certificate
//! that does not match its key or a malformed hash stops `faultd run` before it attaches.

use std::{
    collections::BTreeMap,
    fmt, io,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    RootCertStore, ServerConfig,
    crypto::{CryptoProvider, ring},
    server::WebPkiClientVerifier,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use serde::Deserialize;

/// The file as written; unknown keys are errors, not silently ignored settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    tls_server_config: Option<TlsFormat>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFormat {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    client_auth_type: ClientAuthType,
    client_ca_file: Option<PathBuf>,
}

/// The exporter toolkit's names (Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// What the HTTP server does with the file: TLS, basic auth, both or neither.
#[derive(Default)]
pub struct WebConfig {
    pub tls: Option<Arc<ServerConfig>>,
    pub users: Option<Users>,
}

#[derive(Debug, thiserror::Error)]
#[error("web config {}: {problem}", file.display())]
pub struct WebConfigError {
    file: PathBuf,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    Read(io::Error),
    Syntax(serde_yaml_ng::Error),
    Pem {
        key: &'static str,
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    NoCertificate {
        key: &'static str,
        path: PathBuf,
    },
    Tls(rustls::Error),
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
    },
    ClientCa(rustls::server::VerifierBuilderError),
    UnsupportedClientAuth(ClientAuthType),
    NoClientCa(ClientAuthType),
    Hash {
        user: String,
        source: bcrypt::BcryptError,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Read(e) => write!(f, "{e}"),
            Problem::Syntax(e) => write!(f, "{e}"),
            Problem::Pem { key, path, source } => {
                write!(f, "tls_server_config.{key}: {}: {source}", path.display())
            }
            Problem::NoCertificate { key, path } => write!(
                f,
                "tls_server_config.{key}: {}: no PEM certificate in it",
                path.display()
            ),
            Problem::Tls(e) => write!(f, "tls_server_config: {e}"),
            Problem::KeyMismatch { cert, key } => write!(
                f,
                "tls_server_config: key_file {} is not the key of cert_file {}",
                key.display(),
                cert.display()
            ),
            Problem::ClientCa(e) => write!(f, "tls_server_config.client_ca_file: {e}"),
            Problem::UnsupportedClientAuth(t) => write!(
                f,
                "tls_server_config.client_auth_type: {t:?} is not supported: faultd verifies \
                 every client certificate it accepts (NoClientCert, VerifyClientCertIfGiven \
                 or RequireAndVerifyClientCert)"
            ),
            Problem::NoClientCa(t) => write!(
                f,
                "tls_server_config.client_auth_type {t:?} needs client_ca_file"
            ),
            Problem::Hash { user, source } => {
                write!(f, "basic_auth_users.{user}: not a bcrypt hash ({source})")
            }
        }
    }
}

impl WebConfig {
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        let fail = |problem| WebConfigError {
            file: file.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(file).map_err(|e| fail(Problem::Read(e)))?;
        // An empty file is a valid configuration of nothing, as in the exporter toolkit.
        let parsed: FileFormat = if text.trim().is_empty() {
            FileFormat {
                tls_server_config: None,
                basic_auth_users: BTreeMap::new(),
            }
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| fail(Problem::Syntax(e)))?
        };
        // Relative paths in the file are relative to the file, as in the exporter toolkit.
        let base = file.parent().unwrap_or(Path::new("."));
        let tls = parsed
            .tls_server_config
            .map(|t| tls_config(&t, base))
            .transpose()
            .map_err(fail)?;
        let users = if parsed.basic_auth_users.is_empty() {
            None
        } else {
            Some(Users::new(parsed.basic_auth_users).map_err(fail)?)
        };
        Ok(WebConfig { tls, users })
    }
}

fn tls_config(t: &TlsFormat, base: &Path) -> Result<Arc<ServerConfig>, Problem> {
    let provider = Arc::new(ring::default_provider());
    let verifier = match t.client_auth_type {
        ClientAuthType::NoClientCert => None,
        kind @ (ClientAuthType::VerifyClientCertIfGiven
        | ClientAuthType::RequireAndVerifyClientCert) => {
            let ca = t.client_ca_file.as_ref().ok_or(Problem::NoClientCa(kind))?;
            Some(client_verifier(&base.join(ca), provider.clone(), kind)?)
        }
        kind @ (ClientAuthType::RequestClientCert | ClientAuthType::RequireAnyClientCert) => {
            return Err(Problem::UnsupportedClientAuth(kind));
        }
    };
    let cert_path = base.join(&t.cert_file);
    let certs = certificates("cert_file", &cert_path)?;
    let key_path = base.join(&t.key_file);
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|source| Problem::Pem {
        key: "key_file",
        path: key_path.clone(),
        source,
    })?;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Problem::Tls)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    // Checks that the key is the certificate's.
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => Problem::KeyMismatch {
            cert: cert_path,
            key: key_path,
        },
        e => Problem::Tls(e),
    })?;
    // The server speaks HTTP/1.1 only; saying so lets a client that offers h2 fall back.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let pem = |source| Problem::Pem {
        key,
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(Problem::NoCertificate {
            key,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn client_verifier(
    ca: &Path,
    provider: Arc<CryptoProvider>,
    kind: ClientAuthType,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, Problem> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("client_ca_file", ca)? {
        roots.add(cert).map_err(Problem::Tls)?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match kind {
        ClientAuthType::VerifyClientCertIfGiven => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder.build().map_err(Problem::ClientCa)
}

/// `basic_auth_users`: user name to bcrypt hash.
pub struct Users {
    hashes: BTreeMap<String, String>,
    /// Checked against for an unknown user, so that the answer takes as long as for a
    /// known one and does not tell which names exist.
    decoy: String,
}

impl Users {
    fn new(hashes: BTreeMap<String, String>) -> Result<Users, Problem> {
        let mut cost = bcrypt::DEFAULT_COST;
        for (user, hash) in &hashes {
            let parts = hash
                .parse::<bcrypt::HashParts>()
                .map_err(|source| Problem::Hash {
                    user: user.clone(),
                    source,
                })?;
            cost = cost.max(parts.get_cost());
        }
        let decoy = bcrypt::hash("faultd decoy", cost).expect("a cost the hashes above use");
        Ok(Users { hashes, decoy })
    }

    /// Whether `password` is `user`'s; bcrypt's comparison is constant-time. Costs one
    /// bcrypt hash (tens of milliseconds at the usual cost): call it off the runtime.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.hashes.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password, &self.decoy);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<WebConfig, String> {
        let dir = std::env::temp_dir().join(format!("faultd-webcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = dir.join(format!("{n}.yml"));
        std::fs::write(&file, text).unwrap();
        let r = WebConfig::load(&file).map_err(|e| e.to_string());
        let _ = std::fs::remove_file(&file);
        r
    }

    #[track_caller]
    fn refused(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("{text:?} loaded"),
            Err(e) => e,
        }
    }

    #[test]
    fn users_are_checked_against_their_own_hash_only() {
        let hash = bcrypt::hash("right", 4).unwrap();
        // htpasswd -B writes the $2y$ prefix; the algorithm is the same.
        let htpasswd = hash.replacen("$2b$", "$2y$", 1);
        let c = load(&format!(
            "basic_auth_users:\n  alice: '{hash}'\n  carol: '{htpasswd}'\n"
        ))
        .unwrap();
        assert!(c.tls.is_none());
        let users = c.users.unwrap();
        assert!(users.verify("alice", "right"));
        assert!(!users.verify("alice", "wrong"));
        assert!(!users.verify("bob", "right"));
        assert!(users.verify("carol", "right"));
    }

    #[test]
    fn unknown_keys_and_bad_hashes_are_named() {
        let e = refused("basic_auth_users: {}\nhttp_server_config: {http2: true}\n");
        assert!(e.contains("unknown field `http_server_config`"), "{e}");
        let e = refused("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher: x\n");
        assert!(e.contains("unknown field `cipher`"), "{e}");
        let e = refused("basic_auth_users:\n  alice: plain\n");
        assert!(
            e.contains("basic_auth_users.alice: not a bcrypt hash"),
            "{e}"
        );
        let e = refused("tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: k\n");
        assert!(
            e.contains("tls_server_config.cert_file: /nonexistent/c.pem"),
            "{e}"
        );
        let e = refused(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  \
             client_auth_type: RequireAnyClientCert\n",
        );
        assert!(e.contains("RequireAnyClientCert is not supported"), "{e}");
    }

    #[test]
    fn an_empty_file_configures_nothing() {
        let c = load("\n").unwrap();
        assert!(c.tls.is_none() && c.users.is_none());
    }
}
