// Stand-in for webrtc-polyfill (see package.json): bittorrent-tracker's server never loads WebRTC;
// anything that does is told plainly that it is not there.
const unavailable = () => {
  throw new Error('WebRTC is not installed here (test/support/webrtc-unavailable stands in for webrtc-polyfill)');
};
export class RTCPeerConnection {
  constructor() {
    unavailable();
  }
}
export class RTCSessionDescription {
  constructor() {
    unavailable();
  }
}
export class RTCIceCandidate {
  constructor() {
    unavailable();
  }
}
