//! Every call of every use case, refused or done-but-failed.

use super::*;

macro_rules! sweeps {
    ($($refused:ident, $lost:ident => $case:expr;)*) => {
        $(
            #[tokio::test]
            async fn $refused() {
                sweep_refused($case).await;
            }

            #[tokio::test]
            async fn $lost() {
                sweep_lost_replies($case).await;
            }
        )*
    };
}

sweeps! {
    connect_survives_a_refused_call, connect_survives_a_lost_reply => Case::ConnectCarol;
    connect_again_survives_a_refused_call, connect_again_survives_a_lost_reply =>
        Case::ConnectAliceAgain;
    first_connect_survives_a_refused_call, first_connect_survives_a_lost_reply =>
        Case::ConnectNewUser;
    last_disconnect_survives_a_refused_call, last_disconnect_survives_a_lost_reply =>
        Case::DisconnectBob;
    disconnect_survives_a_refused_call, disconnect_survives_a_lost_reply =>
        Case::DisconnectAliceTab;
    add_contact_survives_a_refused_call, add_contact_survives_a_lost_reply =>
        Case::AddDaveToBob;
    add_contact_again_survives_a_refused_call, add_contact_again_survives_a_lost_reply =>
        Case::AddBobAgain;
    send_online_survives_a_refused_call, send_online_survives_a_lost_reply =>
        Case::SendOnline;
    send_offline_survives_a_refused_call, send_offline_survives_a_lost_reply =>
        Case::SendOffline;
    read_survives_a_refused_call, read_survives_a_lost_reply => Case::ReadHello;
    history_survives_a_refused_call, history_survives_a_lost_reply => Case::HistoryBob;
    edit_survives_a_refused_call, edit_survives_a_lost_reply => Case::EditHello;
    delete_survives_a_refused_call, delete_survives_a_lost_reply => Case::DeleteHello;
}

// A send without a client message id cannot be retried safely after a lost reply (the
// protocol says so): only the refused sweep applies.
#[tokio::test]
async fn send_without_id_survives_a_refused_call() {
    sweep_refused(Case::SendWithoutId).await;
}
