// ruleid: ARM-GO-AMD64-FALLBACK
//go:build amd64

package hash

func update(state *[4]uint64, p []byte) { updateAVX2(state, p) }
