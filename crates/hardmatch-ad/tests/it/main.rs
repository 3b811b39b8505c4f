//! hardmatch-ad's integration tests, one binary: reads, exports and guarded writes against
//! the Samba AD DC lab (`scripts/ad-lab up`).

mod binds;
mod exports;
mod lab;
mod read;
mod writes;
