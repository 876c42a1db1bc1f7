//! sockstatlog-tools: what backend engineers run, built on the mobile
//! library's public API only. The reference logtail collector
//! ([`collector`]), the report and its charts ([`report`]), the end-to-end
//! demo's simulated network extension ([`demo`]) and the `sockstatlog`
//! command line ([`cli`]) live here, so that the library a phone links never
//! carries an HTTP server, a plotting stack or an argument parser.
#![warn(missing_docs)]

pub mod cli;
pub mod collector;
pub mod demo;
pub mod report;
