package livecounters;

/**
 * When the truths of a behind job wait before they go to the sink: {@code HoldPolicy} in
 * {@code jobs/counters/aggregate/hold.py} is the executable specification (its docstring says
 * the rules), and a differential test drives both with the same scripts. Not thread-safe.
 */
public final class HoldPolicy {

    public static final String PASS = "pass";
    public static final String HOLD = "hold";
    public static final String RELEASE_AND_PASS = "release+pass";

    private final long holdMs;
    private final long behindMs;
    private long newest; // the newest event time seen (0: none yet)
    private Long roundStart; // when the current round began holding

    public HoldPolicy(long holdMs, long behindMs) {
        this.holdMs = holdMs;
        this.behindMs = behindMs;
    }

    public long lagMs(long nowMs) {
        return newest != 0 ? nowMs - newest : 0;
    }

    public boolean behind(long nowMs) {
        return holdMs > 0 && newest > 0 && lagMs(nowMs) > behindMs;
    }

    /** What to do with a truth covering events up to {@code maxTs} arriving at {@code nowMs}. */
    public String offer(long nowMs, long maxTs, boolean holding) {
        newest = Math.max(newest, maxTs);
        if (behind(nowMs)) {
            if (!holding) {
                roundStart = nowMs;
            }
            return HOLD;
        }
        return holding ? RELEASE_AND_PASS : PASS;
    }

    /** Whether the held truths go now (asked periodically); a release ends the round. */
    public boolean releaseDue(long nowMs, boolean holding) {
        if (!holding) {
            return false;
        }
        if (!behind(nowMs)) {
            return true;
        }
        if (roundStart == null) { // held truths from before a restart: a round from now
            roundStart = nowMs;
        }
        return nowMs - roundStart >= Math.min(holdMs, Math.floorDiv(lagMs(nowMs), 4));
    }

    public void released(long nowMs) {
        roundStart = null;
    }
}
