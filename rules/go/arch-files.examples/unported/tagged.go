// ruleid: ARM-GO-AMD64-ONLY
//go:build amd64 && !purego

package sum

func fastPath() bool { return true }
