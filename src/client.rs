//! A small blocking HTTP/1.1 client on `std::net` + `httparse` (placeholder).
