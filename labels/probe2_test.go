package labels

import (
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
)

func TestProbe2(t *testing.T) {
	net, _ := chain.NetworkByName("mainnet")
	s := newSink(net, "x")
	_, _, err := readFile(shareddata.Path(t, "labels", "graphsense-tagpacks", "binance_hack.yaml"), s)
	t.Logf("%v", err)
}
