//! The Workhorse HTTP server: API under /v1, worker sessions, OpenAPI document.
