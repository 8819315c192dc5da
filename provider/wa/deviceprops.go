package wa

import (
	"sync"

	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/store"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

// What a new linked device asks the phone for is its device props, which
// whatsmeow keeps in one package variable (store.DeviceProps) and sends
// in the registration payload when an unpaired client connects. chatsync
// sets them from the session's sync config for each pairing, so a long
// sync_window_days gets the full history rather than the phone's default
// recent slice:
//
//   - RequireFullSync: true. The phone sends its full history sync (all
//     conversations with their messages) after the initial bootstrap,
//     instead of only the recent chats.
//   - HistorySyncConfig.FullSyncDaysLimit: sync_window_days when set (the
//     phone leaves out what is older), unset for 0 ("everything").
//   - HistorySyncConfig.FullSyncSizeMbLimit, StorageQuotaMb: whatsmeow's
//     defaults (no size limit of ours; a 10 GB quota).
//
// Pairings of one process take turns (devicePropsMu), so two sessions
// pairing at once each send their own props.
var devicePropsMu sync.Mutex

// applyDeviceProps sets the props for cfg; the caller holds devicePropsMu.
func applyDeviceProps(cfg chatsync.SyncConfig) {
	p := store.DeviceProps
	p.RequireFullSync = proto.Bool(true)
	if p.HistorySyncConfig == nil {
		p.HistorySyncConfig = &waCompanionReg.DeviceProps_HistorySyncConfig{}
	}
	p.HistorySyncConfig.FullSyncDaysLimit = nil
	if cfg.SyncWindowDays > 0 {
		p.HistorySyncConfig.FullSyncDaysLimit = proto.Uint32(uint32(cfg.SyncWindowDays))
	}
}

// connectToPair opens the connection of a pairing with the session's
// device props in the registration payload.
func (s *Session) connectToPair() error {
	devicePropsMu.Lock()
	defer devicePropsMu.Unlock()
	applyDeviceProps(s.syncConfig())
	return s.connect()
}
