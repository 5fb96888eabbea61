"""The benchmark models' architectures, in plain torch.nn (torchvision is not assumed).

Each class follows its published definition (channel tables, expansion ratios, SE blocks,
activations); the comments name the source. Weights are set by models.py, not here.
Importing this module imports torch; models.py imports it only when torch is available.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F


def _make_divisible(v, divisor=8, min_value=None):
    """The channel rounding of the MobileNet papers' reference code."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k=3, s=1, groups=1, act=nn.ReLU, padding=None):
        padding = (k - 1) // 2 if padding is None else padding
        layers = [nn.Conv2d(cin, cout, k, s, padding, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU) else act())
        super().__init__(*layers)


# --------------------------------------------------------------------------- MobileNetV2
# Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks", Table 2;
# width 1.0, input 224, as torchvision's mobilenet_v2.


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(ConvBNAct(cin, hidden, 1, act=nn.ReLU6))
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]
        layers = [ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)]
        cin = 32
        for t, c, n, s in cfg:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(ConvBNAct(cin, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


# --------------------------------------------------------------------------- MobileNetV3
# Howard et al. 2019, "Searching for MobileNetV3", Tables 1 (Large) and 2 (Small); SE with
# squeeze to make_divisible(expanded / 4), hard-sigmoid gate; as torchvision's mobilenet_v3.


class SqueezeExcitation(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class MBV3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        A = nn.Hardswish if act == "HS" else nn.ReLU
        self.use_res = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(ConvBNAct(cin, exp, 1, act=A))
        layers.append(ConvBNAct(exp, exp, k, stride, groups=exp, act=A))
        if se:
            layers.append(SqueezeExcitation(exp, _make_divisible(exp // 4, 8)))
        layers.append(ConvBNAct(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


_MBV3_LARGE = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
               (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
               (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
               (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
               (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
               (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
               (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
               (160, 5, 960, 160, True, "HS", 1)]
_MBV3_SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
               (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
               (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
               (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
               (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
               (96, 5, 576, 96, True, "HS", 1)]


class MobileNetV3(nn.Module):
    def __init__(self, variant="large", num_classes=1000):
        super().__init__()
        cfg, last = (_MBV3_LARGE, 1280) if variant == "large" else (_MBV3_SMALL, 1024)
        layers = [ConvBNAct(3, 16, 3, 2, act=nn.Hardswish)]
        layers += [MBV3Block(*c) for c in cfg]
        c_out = cfg[-1][3]
        layers.append(ConvBNAct(c_out, 6 * c_out, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(6 * c_out, last), nn.Hardswish(inplace=True),
                                        nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


# --------------------------------------------------------------------------- ResNet
# He et al. 2016, "Deep Residual Learning", Table 1; ResNet-50 with the stride on the 3x3
# conv (v1.5, as torchvision's resnet50).


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or cin != planes:
            self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.down = None
        if stride != 1 or cin != out:
            self.down = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + idt)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], 64
        for i, n in enumerate(layers):
            planes = 64 * 2 ** i
            for j in range(n):
                stages.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * block.expansion
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# --------------------------------------------------------------------------- SqueezeNet 1.1
# Iandola et al. 2016 and the v1.1 variant of the reference repo (3x3 stem of 64, pools
# after fire 2 and 4), as torchvision's squeezenet1_1.


class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.e1 = nn.Conv2d(squeeze, e1, 1)
        self.e3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True))

    def forward(self, x):
        x = self.classifier(self.features(x))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


# --------------------------------------------------------------------------- EfficientNet-Lite0
# Tan & Le 2019 (EfficientNet-B0 stages), with the Lite changes of the TF reference
# (efficientnet/lite): no SE, ReLU6 instead of swish, stem (32) and head (1280) not scaled.
# Lite0 is width 1.0, depth 1.0, resolution 224.


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(ConvBNAct(cin, hidden, 1, act=nn.ReLU6))
        layers += [ConvBNAct(hidden, hidden, k, stride, groups=hidden, act=nn.ReLU6),
                   ConvBNAct(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        # (expand, kernel, stride, cin, cout, repeats): EfficientNet-B0's stages
        cfg = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
               (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
        layers = [ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)]
        for e, k, s, cin, cout, n in cfg:
            for i in range(n):
                layers.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        layers.append(ConvBNAct(320, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


# --------------------------------------------------------------------------- YOLOv8n
# Ultralytics YOLOv8 (yolov8.yaml, scale n: depth 0.33, width 0.25, max channels 1024):
# Conv = Conv2d + BN + SiLU; C2f; SPPF; decoupled Detect head with DFL (reg_max 16), whose
# decoded boxes (xywh, pixels) and class sigmoids are concatenated: output [1, 84, anchors].


class YConv(ConvBNAct):
    def __init__(self, cin, cout, k=1, s=1):
        super().__init__(cin, cout, k, s, act=nn.SiLU, padding=k // 2)


class YBottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = YConv(c1, c_, 3)
        self.cv2 = YConv(c_, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=False, e=0.5):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = YConv(c1, 2 * self.c, 1)
        self.cv2 = YConv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(YBottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))  # Ultralytics' export path: a Split
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = YConv(c1, c_, 1)
        self.cv2 = YConv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    """Distribution focal loss integral: softmax over 16 bins, then their expectation,
    as a fixed 1x1 conv with weights 0..15 (as in Ultralytics)."""

    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class Detect(nn.Module):
    def __init__(self, nc, ch, imgsz, strides=(8, 16, 32)):
        super().__init__()
        self.nc, self.reg_max = nc, 16
        self.no = nc + 4 * self.reg_max
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(YConv(x, c2, 3), YConv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
                                 for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(YConv(x, c3, 3), YConv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(self.reg_max)
        # anchors and strides for a fixed input size (Ultralytics' make_anchors, offset 0.5)
        pts, st = [], []
        for s in strides:
            h = w = imgsz // s
            sy, sx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
            pts.append(torch.stack((sx, sy), -1).view(-1, 2))
            st.append(torch.full((h * w, 1), float(s)))
        self.register_buffer("anchors", torch.cat(pts).transpose(0, 1).unsqueeze(0))  # [1, 2, A]
        self.register_buffer("strides", torch.cat(st).transpose(0, 1))  # [1, A]

    def forward(self, xs):
        b = xs[0].shape[0]
        xs = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1) for i, x in enumerate(xs)]
        x_cat = torch.cat([x.view(b, self.no, -1) for x in xs], 2)
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = self.anchors - lt, self.anchors + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * self.strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class YOLOv8n(nn.Module):
    def __init__(self, imgsz=640, nc=80):
        super().__init__()
        self.b0, self.b1 = YConv(3, 16, 3, 2), YConv(16, 32, 3, 2)
        self.b2, self.b3 = C2f(32, 32, 1, True), YConv(32, 64, 3, 2)
        self.b4, self.b5 = C2f(64, 64, 2, True), YConv(64, 128, 3, 2)
        self.b6, self.b7 = C2f(128, 128, 2, True), YConv(128, 256, 3, 2)
        self.b8, self.b9 = C2f(256, 256, 1, True), SPPF(256, 256, 5)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(384, 128, 1)
        self.h15 = C2f(192, 64, 1)
        self.h16, self.h18 = YConv(64, 64, 3, 2), C2f(192, 128, 1)
        self.h19, self.h21 = YConv(128, 128, 3, 2), C2f(384, 256, 1)
        self.detect = Detect(nc, (64, 128, 256), imgsz)

    def forward(self, x):
        p4 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p6 = self.b6(self.b5(p4))
        p9 = self.b9(self.b8(self.b7(p6)))
        h12 = self.h12(torch.cat((self.up(p9), p6), 1))
        h15 = self.h15(torch.cat((self.up(h12), p4), 1))
        h18 = self.h18(torch.cat((self.h16(h15), h12), 1))
        h21 = self.h21(torch.cat((self.h19(h18), p9), 1))
        return self.detect([h15, h18, h21])


# --------------------------------------------------------------------------- BERT-style encoders
# The BERT encoder (Devlin et al. 2019) as in Hugging Face's BertModel: word + position +
# token-type embeddings, LayerNorm (eps 1e-12), post-LN layers of self-attention and a GELU
# (erf) feed-forward, additive mask (1 - mask) * finfo.min. MiniLM-L6 (all-MiniLM-L6-v2's
# shape): 6 layers, hidden 384, 12 heads, intermediate 1536. BERT-tiny: 2 / 128 / 2 / 512.


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, inter):
        super().__init__()
        self.h, self.dh = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ff1, self.ff2 = nn.Linear(hidden, inter), nn.Linear(inter, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, mask_add):
        b, s, _ = x.shape

        def heads(t):
            return t.view(b, s, self.h, self.dh).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + mask_add
        ctx = torch.matmul(att.softmax(-1), v).transpose(1, 2).reshape(b, s, self.h * self.dh)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class BertEncoder(nn.Module):
    def __init__(self, layers, hidden, heads, inter, vocab=30522, max_pos=512):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.tok = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, inter) for _ in range(layers))

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        pos = torch.arange(s, device=input_ids.device).unsqueeze(0)
        x = self.ln(self.word(input_ids) + self.pos(pos) + self.tok(torch.zeros_like(input_ids)))
        mask_add = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, mask_add)
        return x


# --------------------------------------------------------------------------- DS-CNN-L
# Zhang et al. 2017, "Hello Edge: Keyword Spotting on Microcontrollers" (ARM ML-KWS-for-MCU),
# DS-CNN-L (model_size_info 6 276 10 4 2 1 276 3 3 2 2 276 3 3 1 1 ...): conv 276 x (10x4)
# stride (2,1), then 5 depthwise-separable blocks of 276 channels (3x3 depthwise, the first
# with stride 2, + 1x1 pointwise; BN + ReLU after each), average pool, 12 classes: 56.9 M
# ops as in the paper's table. TF's SAME padding, asymmetric where TF pads so. Input
# [1, 1, 49, 10]: 49 frames x 10 MFCC.


class DSCNN(nn.Module):
    def __init__(self, channels=276, blocks=5, num_classes=12):
        super().__init__()
        # SAME for 10x4 stride (2,1) on 49x10 -> 25x10: pad rows 4/5, columns 1/2
        layers = [nn.ZeroPad2d((1, 2, 4, 5)), nn.Conv2d(1, channels, (10, 4), (2, 1), bias=False),
                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        for i in range(blocks):
            if i == 0:  # SAME for 3x3 stride 2 on 25x10 -> 13x5: pad rows 1/1, columns 0/1
                layers += [nn.ZeroPad2d((0, 1, 1, 1)),
                           ConvBNAct(channels, channels, 3, 2, groups=channels, padding=0)]
            else:
                layers.append(ConvBNAct(channels, channels, 3, groups=channels))
            layers.append(ConvBNAct(channels, channels, 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


# --------------------------------------------------------------------------- LSTM
# A keyword/sequence classifier: 2-layer LSTM (hidden 256) over 100 steps of 40 features,
# linear head on the last step's output.


class LSTMModel(nn.Module):
    def __init__(self, features=40, hidden=256, layers=2, num_classes=12):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])
