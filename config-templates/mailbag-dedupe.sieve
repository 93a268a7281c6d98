# mailbag-dedupe.sieve - Dovecot's sieve_before script for mailbag-lmtpd
#
# mailbag-lmtpd marks each message with X-Mailbag-Delivery-Id, the same on
# every attempt Postfix makes at one queue file. If the bridge died after
# Dovecot had saved a message but before Dovecot's 250 reached Postfix,
# Postfix delivers again: this drops the second copy for a user who has it
# already. Dovecot records an ID only once the message is saved, so a
# delivery that failed is never dropped. Compile it with sievec.
require ["duplicate"];
if duplicate :header "X-Mailbag-Delivery-Id" :seconds 432000 {
  discard;
  stop;
}
