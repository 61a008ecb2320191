package index

// Path returns the directory this index lives in (DATA/<network>). Other
// packages keep scratch files of their own under it (cluster keeps its
// memory-mapped union-find there), so that they sit on the same disk as the
// index and count against the same space.
func (ix *Index) Path() string { return ix.dir }
