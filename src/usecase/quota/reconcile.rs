//! See `usecase::quota` (issue 25).
