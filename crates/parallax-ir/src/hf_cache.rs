//! Finding a model's `config.json` in the local Hugging Face hub cache (reads files).
//!
//! The cache layout is the one `huggingface_hub` writes:
//! `<cache>/models--<org>--<name>/refs/main` holds the revision of the `main` branch, and
//! `<cache>/models--<org>--<name>/snapshots/<revision>/config.json` the file. The cache
//! directory is chosen as `huggingface_hub` chooses it: `HF_HUB_CACHE`, else the legacy
//! `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
//! `~/.cache/huggingface/hub`.

use crate::error::IrError;
use crate::model::Model;
use std::fmt;
use std::path::{Path, PathBuf};

/// The hub cache directory and the setting it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDir {
    /// The directory holding `models--org--name` folders.
    pub path: PathBuf,
    /// Where it came from, e.g. `HF_HUB_CACHE`, `HF_HOME/hub` or `~/.cache/huggingface/hub`.
    pub source: String,
}

impl CacheDir {
    /// The cache directory from environment variables read by `var` (pass
    /// `|k| std::env::var(k).ok()` for the process environment). `None` when no variable is
    /// set and there is no home directory.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<CacheDir> {
        let set = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        if let Some(p) = set("HF_HUB_CACHE") {
            return Some(CacheDir {
                path: PathBuf::from(p),
                source: "HF_HUB_CACHE".into(),
            });
        }
        if let Some(p) = set("HUGGINGFACE_HUB_CACHE") {
            return Some(CacheDir {
                path: PathBuf::from(p),
                source: "HUGGINGFACE_HUB_CACHE".into(),
            });
        }
        if let Some(p) = set("HF_HOME") {
            return Some(CacheDir {
                path: Path::new(&p).join("hub"),
                source: "HF_HOME/hub".into(),
            });
        }
        if let Some(p) = set("XDG_CACHE_HOME") {
            return Some(CacheDir {
                path: Path::new(&p).join("huggingface").join("hub"),
                source: "XDG_CACHE_HOME/huggingface/hub".into(),
            });
        }
        set("HOME")
            .or_else(|| set("USERPROFILE"))
            .map(|h| CacheDir {
                path: Path::new(&h).join(".cache").join("huggingface").join("hub"),
                source: "~/.cache/huggingface/hub".into(),
            })
    }

    /// The cache directory of this process's environment.
    pub fn from_env() -> Option<CacheDir> {
        CacheDir::from_vars(|k| std::env::var(k).ok())
    }
}

/// Whether `spec` has the shape of a hub id: `org/name`, both parts made of letters, digits,
/// `-`, `_` and `.`, not ending in `.json`.
pub fn looks_like_hub_id(spec: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match spec.split_once('/') {
        Some((org, name)) => ok(org) && ok(name) && !spec.to_ascii_lowercase().ends_with(".json"),
        None => false,
    }
}

/// Why a hub id was not found in the cache: every place looked at, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCached {
    /// The id as given.
    pub id: String,
    /// The cache directory, or `None` when none could be determined.
    pub cache: Option<CacheDir>,
    /// What was missing or wrong, one entry per place looked at.
    pub looked: Vec<String>,
}

impl fmt::Display for NotCached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cache {
            None => write!(
                f,
                "`{}` is not in the local Hugging Face cache: no cache directory (set \
                 HF_HUB_CACHE or HF_HOME)",
                self.id
            ),
            Some(c) => write!(
                f,
                "`{}` is not in the local Hugging Face cache {} (from {}): {}; download it \
                 with `huggingface-cli download {} config.json` or pass a path to its \
                 config.json",
                self.id,
                c.path.display(),
                c.source,
                self.looked.join("; "),
                self.id
            ),
        }
    }
}

/// Where `id`'s `config.json` of the `main` revision lies in `cache`.
///
/// Uses `refs/main`; without it, the only snapshot holding a `config.json` (several are
/// ambiguous and reported).
///
/// # Errors
/// [`NotCached`] naming each path looked at and what was missing there.
pub fn find_config(id: &str, cache: &CacheDir) -> Result<PathBuf, NotCached> {
    let not = |looked: Vec<String>| NotCached {
        id: id.to_string(),
        cache: Some(cache.clone()),
        looked,
    };
    let repo = cache
        .path
        .join(format!("models--{}", id.trim().replace('/', "--")));
    if !repo.is_dir() {
        return Err(not(vec![format!("no folder {}", repo.display())]));
    }
    let snapshots = repo.join("snapshots");
    let main = repo.join("refs").join("main");
    if let Ok(rev) = std::fs::read_to_string(&main) {
        let rev = rev.trim();
        let file = snapshots.join(rev).join("config.json");
        if file.is_file() {
            return Ok(file);
        }
        return Err(not(vec![format!(
            "{} names revision `{rev}` but {} does not exist",
            main.display(),
            file.display()
        )]));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("config.json"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(not(vec![
            format!("no {}", main.display()),
            format!(
                "no snapshot under {} holds a config.json",
                snapshots.display()
            ),
        ])),
        _ => Err(not(vec![
            format!("no {}", main.display()),
            format!(
                "several snapshots hold a config.json ({}); pass the one you mean as a path",
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ])),
    }
}

/// Error of [`load`]: not cached, or the cached file is not a valid config.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheError {
    /// The id is not in the cache.
    NotCached(NotCached),
    /// The cached `config.json` could not be imported.
    Import(IrError),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::NotCached(n) => n.fmt(f),
            CacheError::Import(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CacheError {}

/// Import hub id `id` from `cache` (reads the file); the model is named `id`.
///
/// # Errors
/// [`CacheError::NotCached`] naming where it looked; [`CacheError::Import`] for a config the
/// importer rejects.
pub fn load(id: &str, cache: Option<&CacheDir>) -> Result<Model, CacheError> {
    let cache = cache.ok_or_else(|| {
        CacheError::NotCached(NotCached {
            id: id.to_string(),
            cache: None,
            looked: Vec::new(),
        })
    })?;
    let file = find_config(id, cache).map_err(CacheError::NotCached)?;
    let mut m = crate::hf::load(&file).map_err(CacheError::Import)?;
    m.name = id.trim().to_string();
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 512}"#;

    fn temp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("parallax-hf-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn snapshot(cache: &Path, id: &str, rev: &str, main: bool) {
        let repo = cache.join(format!("models--{}", id.replace('/', "--")));
        let snap = repo.join("snapshots").join(rev);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), TINY).unwrap();
        if main {
            std::fs::create_dir_all(repo.join("refs")).unwrap();
            std::fs::write(repo.join("refs").join("main"), format!("{rev}\n")).unwrap();
        }
    }

    #[test]
    fn cache_dir_follows_huggingface_hub_precedence() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = CacheDir::from_vars(vars(&[("HF_HUB_CACHE", "/a"), ("HF_HOME", "/b")])).unwrap();
        assert_eq!(
            (c.path, c.source.as_str()),
            (PathBuf::from("/a"), "HF_HUB_CACHE")
        );
        let c = CacheDir::from_vars(vars(&[("HF_HOME", "/b"), ("HOME", "/h")])).unwrap();
        assert_eq!(c.path, PathBuf::from("/b/hub"));
        let c = CacheDir::from_vars(vars(&[("HOME", "/h")])).unwrap();
        assert_eq!(c.path, PathBuf::from("/h/.cache/huggingface/hub"));
        assert_eq!(CacheDir::from_vars(vars(&[])), None);
    }

    #[test]
    fn finds_the_main_revision_and_names_where_it_looked() {
        let d = temp("main");
        let cache = CacheDir {
            path: d.clone(),
            source: "HF_HUB_CACHE".into(),
        };
        snapshot(&d, "acme/Tiny-1B", "old", false);
        snapshot(&d, "acme/Tiny-1B", "abc123", true);
        let m = load("acme/Tiny-1B", Some(&cache)).unwrap();
        assert_eq!(m.name, "acme/Tiny-1B");
        assert_eq!(m.layers(), 2);
        assert!(find_config("acme/Tiny-1B", &cache)
            .unwrap()
            .ends_with("snapshots/abc123/config.json"));

        // Without refs/main: the only snapshot, else an error listing them.
        snapshot(&d, "acme/One", "r1", false);
        assert!(find_config("acme/One", &cache).is_ok());
        snapshot(&d, "acme/One", "r2", false);
        let e = find_config("acme/One", &cache).unwrap_err().to_string();
        assert!(e.contains("several snapshots"), "{e}");

        let e = load("acme/Missing", Some(&cache)).unwrap_err().to_string();
        assert!(
            e.contains("`acme/Missing` is not in the local Hugging Face cache"),
            "{e}"
        );
        assert!(
            e.contains(&d.join("models--acme--Missing").display().to_string()),
            "{e}"
        );
        assert!(e.contains("(from HF_HUB_CACHE)"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn hub_id_shape() {
        assert!(looks_like_hub_id("meta-llama/Llama-3.1-8B"));
        assert!(!looks_like_hub_id("llama-3.1-8b"));
        assert!(!looks_like_hub_id("models/x.json"));
        assert!(!looks_like_hub_id("a/b/c"));
        assert!(!looks_like_hub_id("../x"));
    }
}
