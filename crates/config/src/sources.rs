//! Where each setting's value comes from: the TOML file named by
//! `COMPLAINTS_CONFIG` and the environment, merged by `figment` (the
//! environment wins), with secrets also read from the files that `<NAME>_FILE`
//! names.
//!
//! A setting is known by its environment variable's name (`env::ALL`); its
//! key in the TOML file is that name in lower case without the `COMPLAINTS_`
//! prefix (`COMPLAINTS_MAIL_FROM` is `mail_from`, `DATABASE_URL` is
//! `database_url`). Every value is handed to the settings code as text, as
//! the environment would give it, so a setting is parsed and checked in one
//! place whichever source it came from.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Num, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::{ConfigError, env, invalid};

/// The suffix of a variable (or file key) naming a file that holds a secret.
const FILE_SUFFIX: &str = "_FILE";
const ENVIRONMENT: &str = "environment";
const CONFIG_FILE: &str = "configuration file";

/// A setting's key in the TOML file.
pub fn file_key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_prefix("complaints_") {
        Some(key) => key.to_owned(),
        None => lower,
    }
}

/// The merged settings, each value with where it came from.
#[derive(Debug)]
pub(crate) struct Sources {
    values: HashMap<String, (String, String)>,
    /// Names asked for that `env::ALL` does not list (read from the
    /// environment alone); a test keeps this empty.
    unlisted: RefCell<BTreeSet<String>>,
    vars: HashMap<String, String>,
}

impl Sources {
    /// Reads the file `COMPLAINTS_CONFIG` names (if any) and merges the
    /// variables over it. A key the file should not have, a value of the
    /// wrong shape, a secret given twice in one source, or a secret file that
    /// cannot be read is an error naming where it was.
    pub(crate) fn read(vars: &HashMap<String, String>) -> Result<Sources, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let mut figment = Figment::new();
        if let Some(path) = vars.get(env::CONFIG) {
            figment = figment.merge(TomlFile::read(Path::new(path))?);
        }
        let figment = figment.merge(Environment::new(&vars));

        let mut values = HashMap::new();
        for name in env::ALL {
            if *name == env::CONFIG {
                continue;
            }
            if let Some(found) = resolve(&figment, name)? {
                values.insert((*name).to_owned(), found);
            }
        }
        Ok(Sources {
            values,
            unlisted: RefCell::new(BTreeSet::new()),
            vars,
        })
    }

    /// The value of the setting `name`, if any source sets it (blank counts
    /// as unset).
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        if !env::ALL.contains(&name) {
            self.unlisted.borrow_mut().insert(name.to_owned());
            return self.vars.get(name).cloned();
        }
        self.values
            .get(name)
            .map(|(value, _)| value.clone())
            .filter(|value| !value.trim().is_empty())
    }

    /// Where the value of `name` came from, for error messages.
    pub(crate) fn origin(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(_, origin)| origin.as_str())
    }

    /// Settings read that `env::ALL` does not list.
    #[cfg(test)]
    pub(crate) fn unlisted(&self) -> BTreeSet<String> {
        self.unlisted.borrow().clone()
    }
}

/// One setting's value and origin: the plain key, or for a secret its
/// `_FILE` form, from the environment over the file.
fn resolve(figment: &Figment, name: &str) -> Result<Option<(String, String)>, ConfigError> {
    let key = file_key(name);
    let plain = lookup(figment, name, &key)?;
    if !env::SECRETS.contains(&name) {
        return Ok(plain.map(Into::into));
    }
    let file_name = format!("{name}{FILE_SUFFIX}");
    let from_file = lookup(figment, &file_name, &file_key(&file_name))?;
    let from_file = match from_file {
        Some(Found {
            text: path,
            origin,
            from_env,
        }) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    &file_name,
                    format!("{path:?} ({origin}) cannot be read: {e}"),
                )
            })?;
            Some(Found {
                text: text.trim().to_owned(),
                origin: format!("the file {path} named by {origin}"),
                from_env,
            })
        }
        None => None,
    };
    match (plain, from_file) {
        (Some(plain), Some(file)) => {
            if plain.from_env == file.from_env {
                return Err(invalid(
                    name,
                    format!(
                        "set both {name} and {file_name} ({}); set one",
                        if plain.from_env {
                            ENVIRONMENT
                        } else {
                            CONFIG_FILE
                        }
                    ),
                ));
            }
            Ok(Some(if plain.from_env { plain } else { file }.into()))
        }
        (plain, file) => Ok(file.or(plain).map(Into::into)),
    }
}

/// A value as text, where it came from, and whether that was the environment.
struct Found {
    text: String,
    origin: String,
    from_env: bool,
}

impl From<Found> for (String, String) {
    fn from(found: Found) -> Self {
        (found.text, found.origin)
    }
}

/// The merged value of `key`, as text, and where it came from.
fn lookup(figment: &Figment, name: &str, key: &str) -> Result<Option<Found>, ConfigError> {
    let Ok(value) = figment.find_value(key) else {
        return Ok(None);
    };
    let metadata = figment.get_metadata(value.tag());
    let from_env = metadata.is_some_and(|m| m.name == ENVIRONMENT);
    let origin = match metadata {
        Some(metadata) if metadata.name == ENVIRONMENT => format!("{ENVIRONMENT} variable {name}"),
        Some(metadata) => match metadata.source.as_ref().and_then(|s| s.file_path()) {
            Some(path) => format!("key `{key}` in {}", path.display()),
            None => format!("key `{key}` in the {CONFIG_FILE}"),
        },
        None => format!("key `{key}`"),
    };
    let separator = if name == env::COMPANY_ADDRESS {
        "|"
    } else {
        ","
    };
    let text = as_text(&value, separator)
        .ok_or_else(|| invalid(name, format!("({origin}): expected a value, not a table")))?;
    Ok(Some(Found {
        text,
        origin,
        from_env,
    }))
}

/// A file value as the environment would spell it: lists joined by
/// `separator`, numbers and booleans written out.
fn as_text(value: &Value, separator: &str) -> Option<String> {
    Some(match value {
        Value::String(_, text) => text.clone(),
        Value::Char(_, c) => c.to_string(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, number) => number_text(*number),
        Value::Empty(..) => String::new(),
        Value::Array(_, items) => items
            .iter()
            .map(|item| as_text(item, separator))
            .collect::<Option<Vec<_>>>()?
            .join(separator),
        Value::Dict(..) => return None,
    })
}

fn number_text(number: Num) -> String {
    match number {
        Num::F32(f) => f.to_string(),
        Num::F64(f) => f.to_string(),
        other => match other.to_i128() {
            Some(n) => n.to_string(),
            None => other.to_u128().map(|n| n.to_string()).unwrap_or_default(),
        },
    }
}

/// The TOML file, parsed with the workspace's `toml`, its keys checked
/// against the known settings.
struct TomlFile {
    path: PathBuf,
    dict: Dict,
}

impl TomlFile {
    fn read(path: &Path) -> Result<TomlFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| invalid(env::CONFIG, format!("{}: {e}", path.display())))?;
        let known = known_keys();
        let mut unknown: Vec<&String> = table.keys().filter(|k| !known.contains(*k)).collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(invalid(
                env::CONFIG,
                format!(
                    "{}: unknown setting `{first}` (keys are the variables' names in lower case without COMPLAINTS_, e.g. `mail_from`; see the README's configuration table)",
                    path.display()
                ),
            ));
        }
        let dict = Value::serialize(&table)
            .ok()
            .and_then(|value| value.into_dict())
            .ok_or_else(|| {
                invalid(
                    env::CONFIG,
                    format!("{}: not a table of settings", path.display()),
                )
            })?;
        Ok(TomlFile {
            path: path.to_owned(),
            dict,
        })
    }
}

/// Every key the file may hold.
fn known_keys() -> BTreeSet<String> {
    env::ALL
        .iter()
        .filter(|name| **name != env::CONFIG)
        .map(|name| file_key(name))
        .chain(
            env::SECRETS
                .iter()
                .map(|name| file_key(&format!("{name}{FILE_SUFFIX}"))),
        )
        .collect()
}

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from(CONFIG_FILE, self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

/// The variables that name a setting (or a secret's file), by file key.
struct Environment {
    dict: Dict,
}

impl Environment {
    fn new(vars: &HashMap<String, String>) -> Environment {
        let names = env::ALL.iter().map(|name| (*name).to_owned()).chain(
            env::SECRETS
                .iter()
                .map(|name| format!("{name}{FILE_SUFFIX}")),
        );
        let dict = names
            .filter(|name| name != env::CONFIG)
            .filter_map(|name| {
                let value = vars.get(&name)?;
                Some((file_key(&name), Value::from(value.clone())))
            })
            .collect();
        Environment { dict }
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENVIRONMENT)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_the_code_reads_is_listed_in_env_all() {
        let sources = Sources::read(&HashMap::new()).unwrap();
        crate::Settings::from_sources(&sources).unwrap();
        assert_eq!(
            sources.unlisted(),
            BTreeSet::new(),
            "add these to the `settings!` list in `env`"
        );
    }

    #[test]
    fn every_secret_is_a_setting() {
        for secret in env::SECRETS {
            assert!(env::ALL.contains(secret), "{secret}");
        }
    }
}
