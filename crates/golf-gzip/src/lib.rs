pub mod deflate;
