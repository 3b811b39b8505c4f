//! hardmatch's one integration-test binary: every test that runs the real `hardmatch`
//! executable lives in a module here, so the suite links once.

mod ad_lab;
mod convert;
mod reference;
mod status;
mod support;
