package labels

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/kv"
)

func TestProbe(t *testing.T) {
	net, _ := chain.NetworkByName("mainnet")
	files, _ := filepath.Glob(shareddata.Path(t, "labels", "graphsense-tagpacks", "*.yaml"))
	for _, f := range []string{"miners.yaml"} {
		s := newSink(net, f)
		t0 := time.Now()
		_, _, err := readFile(shareddata.Path(t, "labels", "graphsense-tagpacks", f), s)
		t.Logf("%s parse %v err=%v applied=%d", f, time.Since(t0), err, s.stats.Applied)
	}
	st, _ := kv.OpenPebble(t.TempDir())
	defer st.Close()
	t0 := time.Now()
	stats, err := Import(st, net, files, time.Now(), nil)
	t.Logf("all: %v err=%v %+v", time.Since(t0), err, stats.Counts)
	s := newSink(net, "sdn")
	t0 = time.Now()
	_, _, err = readFile(shareddata.Path(t, "labels", "ofac", "sdn_advanced-2025-11-19.xml.bz2"), s)
	t.Logf("sdn parse %v err=%v %+v %v", time.Since(t0), err, s.stats.Counts, s.stats.Examples)
}
