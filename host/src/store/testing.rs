//! Tests on both engines: the same test body on a fresh SQLite store and on a fresh
//! PostgreSQL database of a server the test process starts itself.

use super::{Location, Store};

/// A test on a fresh store of each engine, as `mod name { fn sqlite, fn postgres }`.
/// The PostgreSQL one runs on the test process's own server: a loud skip without
/// PostgreSQL installed, a failure in CI.
macro_rules! both_engines {
    (fn $name:ident($s:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                run($crate::store::Store::open_in_memory().unwrap());
            }

            #[test]
            fn postgres() {
                if let Some(s) = $crate::store::testing::postgres_store(concat!(
                    module_path!(),
                    "::",
                    stringify!($name)
                )) {
                    run(s);
                }
            }

            #[allow(unused_mut)]
            fn run(mut $s: $crate::store::Store) $body
        }
    };
}
pub(crate) use both_engines;

/// A store in a new database of the test process's PostgreSQL server (`None`: there
/// is no server, and the skip was announced).
pub(crate) fn postgres_store(test: &str) -> Option<Store> {
    let server = relais_testkit::postgres::Server::shared_or_skip(test)?;
    let url = server.fresh_database().unwrap();
    Some(Store::open_at(&Location::Postgres(url)).unwrap())
}

/// A fresh store on the same engine as `like`.
pub(crate) fn fresh_like(like: &Store) -> Store {
    match like.location() {
        Location::Postgres(_) => postgres_store("fresh_like").expect("the server is running"),
        _ => Store::open_in_memory().unwrap(),
    }
}
